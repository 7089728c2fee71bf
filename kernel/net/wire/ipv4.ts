// kernel/net/wire/ipv4.ts — IPv4 headers (RFC 791 §3.1). Layer: wire.
// Options are skipped, not interpreted. parse() checks version, IHL, total
// length against the buffer, and the header checksum; after it succeeds every
// field read is inside the header and the payload lies inside the buffer
// (trailing Ethernet padding is excluded by totalLen).
import { get8, get16, get32, set8, set16, set32, checksum } from "./bytes";
import { WireError, setWireError } from "./error";

export const IP_FIELD_VER_IHL = 0;
export const IP_FIELD_TOS = 1;
export const IP_FIELD_LENGTH = 2;
export const IP_FIELD_IDENT = 4;
export const IP_FIELD_FLAGS_FRAG = 6;
export const IP_FIELD_TTL = 8;
export const IP_FIELD_PROTOCOL = 9;
export const IP_FIELD_CHECKSUM = 10;
export const IP_FIELD_SRC = 12;
export const IP_FIELD_DST = 16;
export const IP_HEADER_LEN = 20;

export const IP_PROTO_ICMP: u32 = 1;
export const IP_PROTO_TCP: u32 = 6;
export const IP_PROTO_UDP: u32 = 17;

const FLAG_DF: u32 = 0x4000;
const FLAG_MF: u32 = 0x2000;

export const IP_BROADCAST: u32 = 0xffffffff;

export class Ipv4Repr {
  src: u32 = 0;
  dst: u32 = 0;
  protocol: u32 = 0;
  ttl: u32 = 64;
  tos: u32 = 0;
  ident: u32 = 0;
  dontFrag: bool = false;
  moreFrags: bool = false;
  /** Fragment offset in bytes (the field is in 8-byte units). */
  fragOffset: i32 = 0;
  headerLen: i32 = IP_HEADER_LEN;
  payloadLen: i32 = 0;

  get isFragment(): bool { return this.moreFrags || this.fragOffset != 0; }

  /** verifyChecksum=false only for tests of other checks. */
  static parse(ptr: usize, len: i32, verifyChecksum: bool = true): Ipv4Repr | null {
    if (<u32>len < <u32>IP_HEADER_LEN) { setWireError(WireError.Truncated); return null; }
    const vi = get8(ptr + IP_FIELD_VER_IHL);
    if ((vi >> 4) != 4) { setWireError(WireError.BadVersion); return null; }
    const hl = <i32>(vi & 15) * 4;
    if (hl < IP_HEADER_LEN) { setWireError(WireError.BadHeaderLen); return null; }
    const total = <i32>get16(ptr + IP_FIELD_LENGTH);
    if (total < hl) { setWireError(WireError.BadLength); return null; }
    if (total > len || hl > len) { setWireError(WireError.Truncated); return null; }
    if (verifyChecksum && checksum(ptr, hl) != 0) { setWireError(WireError.BadChecksum); return null; }
    const r = new Ipv4Repr();
    r.headerLen = hl;
    r.payloadLen = total - hl;
    r.tos = get8(ptr + IP_FIELD_TOS);
    r.ident = get16(ptr + IP_FIELD_IDENT);
    const ff = get16(ptr + IP_FIELD_FLAGS_FRAG);
    r.dontFrag = (ff & FLAG_DF) != 0;
    r.moreFrags = (ff & FLAG_MF) != 0;
    r.fragOffset = <i32>(ff & 0x1fff) * 8;
    r.ttl = get8(ptr + IP_FIELD_TTL);
    r.protocol = get8(ptr + IP_FIELD_PROTOCOL);
    r.src = get32(ptr + IP_FIELD_SRC);
    r.dst = get32(ptr + IP_FIELD_DST);
    return r;
  }

  /** Writes a 20-byte header (no options) with its checksum at ptr. */
  emit(ptr: usize): void {
    set8(ptr + IP_FIELD_VER_IHL, 0x45);
    set8(ptr + IP_FIELD_TOS, this.tos);
    set16(ptr + IP_FIELD_LENGTH, <u32>(IP_HEADER_LEN + this.payloadLen));
    set16(ptr + IP_FIELD_IDENT, this.ident);
    set16(ptr + IP_FIELD_FLAGS_FRAG, (this.dontFrag ? FLAG_DF : 0) | (this.moreFrags ? FLAG_MF : 0) | (<u32>(this.fragOffset >> 3) & 0x1fff));
    set8(ptr + IP_FIELD_TTL, this.ttl);
    set8(ptr + IP_FIELD_PROTOCOL, this.protocol);
    set16(ptr + IP_FIELD_CHECKSUM, 0);
    set32(ptr + IP_FIELD_SRC, this.src);
    set32(ptr + IP_FIELD_DST, this.dst);
    set16(ptr + IP_FIELD_CHECKSUM, checksum(ptr, IP_HEADER_LEN));
  }
}
