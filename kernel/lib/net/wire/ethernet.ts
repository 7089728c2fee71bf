// kernel/lib/net/wire/ethernet.ts — Ethernet II frames (IEEE 802.3 with EtherType;
// no 802.1Q tags, no FCS: the device strips it). Layer: wire.
// After EthernetFrame.check succeeds, every accessor reads inside [ptr, ptr+len).
import { get16, set16, getMac, setMac } from "./bytes";

export const ETH_FIELD_DST = 0;
export const ETH_FIELD_SRC = 6;
export const ETH_FIELD_TYPE = 12;
export const ETH_HEADER_LEN = 14;

export const ETHERTYPE_IPV4: u32 = 0x0800;
export const ETHERTYPE_ARP: u32 = 0x0806;

export class EthernetFrame {
  constructor(public ptr: usize, public len: i32) {}
  /** A view when the frame holds at least a header, else null. */
  static check(ptr: usize, len: i32): EthernetFrame | null {
    return <u32>len < <u32>ETH_HEADER_LEN ? null : new EthernetFrame(ptr, len);
  }
  get dst(): u64 { return getMac(this.ptr + ETH_FIELD_DST); }
  set dst(v: u64) { setMac(this.ptr + ETH_FIELD_DST, v); }
  get src(): u64 { return getMac(this.ptr + ETH_FIELD_SRC); }
  set src(v: u64) { setMac(this.ptr + ETH_FIELD_SRC, v); }
  get ethertype(): u32 { return get16(this.ptr + ETH_FIELD_TYPE); }
  set ethertype(v: u32) { set16(this.ptr + ETH_FIELD_TYPE, v); }
  get payload(): usize { return this.ptr + ETH_HEADER_LEN; }
  get payloadLen(): i32 { return this.len - ETH_HEADER_LEN; }
}

export class EthernetRepr {
  dst: u64 = 0;
  src: u64 = 0;
  ethertype: u32 = 0;
  static parse(f: EthernetFrame): EthernetRepr {
    const r = new EthernetRepr();
    r.dst = f.dst; r.src = f.src; r.ethertype = f.ethertype;
    return r;
  }
  /** Writes the 14-byte header at ptr. */
  emit(ptr: usize): void {
    setMac(ptr + ETH_FIELD_DST, this.dst);
    setMac(ptr + ETH_FIELD_SRC, this.src);
    set16(ptr + ETH_FIELD_TYPE, this.ethertype);
  }
}
