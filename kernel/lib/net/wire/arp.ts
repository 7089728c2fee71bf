// kernel/lib/net/wire/arp.ts — ARP for IPv4 over Ethernet (RFC 826). Layer: wire.
// Only htype 1 / ptype 0x0800 / hlen 6 / plen 4 is accepted; after parse's
// length check every field read is inside the 28-byte packet.
import { get16, get32, set16, set32, getMac, setMac, set8 } from "./bytes";
import { WireError, setWireError } from "./error";

export const ARP_FIELD_HTYPE = 0;
export const ARP_FIELD_PTYPE = 2;
export const ARP_FIELD_HLEN = 4;
export const ARP_FIELD_PLEN = 5;
export const ARP_FIELD_OPER = 6;
export const ARP_FIELD_SHA = 8;
export const ARP_FIELD_SPA = 14;
export const ARP_FIELD_THA = 18;
export const ARP_FIELD_TPA = 24;
export const ARP_LEN = 28;

export const ARP_REQUEST: u32 = 1;
export const ARP_REPLY: u32 = 2;

/** A view of an ARP packet for IPv4 over Ethernet; check() guarantees 28 bytes. */
export class ArpPacket {
  constructor(public ptr: usize, public len: i32) {}
  static check(ptr: usize, len: i32): ArpPacket | null {
    if (<u32>len < <u32>ARP_LEN) { setWireError(WireError.Truncated); return null; }
    return new ArpPacket(ptr, len);
  }
  get htype(): u32 { return get16(this.ptr + ARP_FIELD_HTYPE); }
  get ptype(): u32 { return get16(this.ptr + ARP_FIELD_PTYPE); }
  get hlen(): u32 { return <u32>load<u8>(this.ptr + ARP_FIELD_HLEN); }
  get plen(): u32 { return <u32>load<u8>(this.ptr + ARP_FIELD_PLEN); }
  get operation(): u32 { return get16(this.ptr + ARP_FIELD_OPER); }
  set operation(v: u32) { set16(this.ptr + ARP_FIELD_OPER, v); }
  get senderMac(): u64 { return getMac(this.ptr + ARP_FIELD_SHA); }
  get senderIp(): u32 { return get32(this.ptr + ARP_FIELD_SPA); }
  get targetMac(): u64 { return getMac(this.ptr + ARP_FIELD_THA); }
  get targetIp(): u32 { return get32(this.ptr + ARP_FIELD_TPA); }
}

export class ArpRepr {
  operation: u32 = 0;
  senderMac: u64 = 0;
  senderIp: u32 = 0;
  targetMac: u64 = 0;
  targetIp: u32 = 0;

  /** null for truncated packets, other hardware/protocol types, unknown operations. */
  static parse(ptr: usize, len: i32): ArpRepr | null {
    const p = ArpPacket.check(ptr, len);
    if (p == null) return null;
    if (p.htype != 1 || p.ptype != 0x0800 || p.hlen != 6 || p.plen != 4) { setWireError(WireError.BadVersion); return null; }
    const op = p.operation;
    if (op != ARP_REQUEST && op != ARP_REPLY) { setWireError(WireError.Unsupported); return null; }
    const r = new ArpRepr();
    r.operation = op;
    r.senderMac = p.senderMac;
    r.senderIp = p.senderIp;
    r.targetMac = p.targetMac;
    r.targetIp = p.targetIp;
    return r;
  }

  /** Writes the 28-byte packet at ptr. */
  emit(ptr: usize): void {
    set16(ptr + ARP_FIELD_HTYPE, 1);
    set16(ptr + ARP_FIELD_PTYPE, 0x0800);
    set8(ptr + ARP_FIELD_HLEN, 6);
    set8(ptr + ARP_FIELD_PLEN, 4);
    set16(ptr + ARP_FIELD_OPER, this.operation);
    setMac(ptr + ARP_FIELD_SHA, this.senderMac);
    set32(ptr + ARP_FIELD_SPA, this.senderIp);
    setMac(ptr + ARP_FIELD_THA, this.targetMac);
    set32(ptr + ARP_FIELD_TPA, this.targetIp);
  }
}
