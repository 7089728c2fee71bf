// kernel/net/wire/arp.ts — ARP for IPv4 over Ethernet (RFC 826). Layer: wire.
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

export class ArpRepr {
  operation: u32 = 0;
  senderMac: u64 = 0;
  senderIp: u32 = 0;
  targetMac: u64 = 0;
  targetIp: u32 = 0;

  /** null for truncated packets, other hardware/protocol types, unknown operations. */
  static parse(ptr: usize, len: i32): ArpRepr | null {
    if (<u32>len < <u32>ARP_LEN) { setWireError(WireError.Truncated); return null; }
    if (get16(ptr + ARP_FIELD_HTYPE) != 1 || get16(ptr + ARP_FIELD_PTYPE) != 0x0800 ||
        load<u8>(ptr + ARP_FIELD_HLEN) != 6 || load<u8>(ptr + ARP_FIELD_PLEN) != 4) {
      setWireError(WireError.BadVersion); return null;
    }
    const op = get16(ptr + ARP_FIELD_OPER);
    if (op != ARP_REQUEST && op != ARP_REPLY) { setWireError(WireError.Unsupported); return null; }
    const r = new ArpRepr();
    r.operation = op;
    r.senderMac = getMac(ptr + ARP_FIELD_SHA);
    r.senderIp = get32(ptr + ARP_FIELD_SPA);
    r.targetMac = getMac(ptr + ARP_FIELD_THA);
    r.targetIp = get32(ptr + ARP_FIELD_TPA);
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
