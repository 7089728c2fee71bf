// kernel/lib/net/wire/ipv4.ts — IPv4 headers (RFC 791 §3.1). Layer: wire.
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

/** A view of an IPv4 header. check() guarantees 20 bytes and an IHL that
 *  fits the buffer; the accessors then stay inside [ptr, ptr + len). */
export class Ipv4Packet {
  constructor(public ptr: usize, public len: i32) {}
  static check(ptr: usize, len: i32): Ipv4Packet | null {
    if (<u32>len < <u32>IP_HEADER_LEN) { setWireError(WireError.Truncated); return null; }
    const hl = <i32>(get8(ptr + IP_FIELD_VER_IHL) & 15) * 4;
    if (hl > len) { setWireError(WireError.Truncated); return null; }
    return new Ipv4Packet(ptr, len);
  }
  get version(): u32 { return get8(this.ptr + IP_FIELD_VER_IHL) >> 4; }
  get headerLen(): i32 { return <i32>(get8(this.ptr + IP_FIELD_VER_IHL) & 15) * 4; }
  get tos(): u32 { return get8(this.ptr + IP_FIELD_TOS); }
  get totalLen(): i32 { return <i32>get16(this.ptr + IP_FIELD_LENGTH); }
  set totalLen(v: i32) { set16(this.ptr + IP_FIELD_LENGTH, <u32>v); }
  get ident(): u32 { return get16(this.ptr + IP_FIELD_IDENT); }
  get flagsFrag(): u32 { return get16(this.ptr + IP_FIELD_FLAGS_FRAG); }
  get ttl(): u32 { return get8(this.ptr + IP_FIELD_TTL); }
  set ttl(v: u32) { set8(this.ptr + IP_FIELD_TTL, v); }
  get protocol(): u32 { return get8(this.ptr + IP_FIELD_PROTOCOL); }
  get checksumField(): u32 { return get16(this.ptr + IP_FIELD_CHECKSUM); }
  get src(): u32 { return get32(this.ptr + IP_FIELD_SRC); }
  set src(v: u32) { set32(this.ptr + IP_FIELD_SRC, v); }
  get dst(): u32 { return get32(this.ptr + IP_FIELD_DST); }
  set dst(v: u32) { set32(this.ptr + IP_FIELD_DST, v); }
  /** True when the header checksum verifies. */
  get checksumOk(): bool { return checksum(this.ptr, this.headerLen) == 0; }
}

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
    const r = new Ipv4Repr();
    return r.parseFrom(ptr, len, verifyChecksum) ? r : null;
  }

  /** parse() into this object (every field set, nothing allocated: the
   *  receive path reuses one per interface). False (wireError() says why)
   *  leaves the fields undefined. */
  parseFrom(ptr: usize, len: i32, verifyChecksum: bool = true): bool {
    if (<u32>len < <u32>IP_HEADER_LEN) { setWireError(WireError.Truncated); return false; }
    const vihl = get8(ptr + IP_FIELD_VER_IHL);
    if ((vihl >> 4) != 4) { setWireError(WireError.BadVersion); return false; }
    const hl = <i32>(vihl & 15) * 4;
    if (hl < IP_HEADER_LEN) { setWireError(WireError.BadHeaderLen); return false; }
    if (hl > len) { setWireError(WireError.Truncated); return false; }
    const total = <i32>get16(ptr + IP_FIELD_LENGTH);
    if (total < hl) { setWireError(WireError.BadLength); return false; }
    if (total > len) { setWireError(WireError.Truncated); return false; }
    if (verifyChecksum && checksum(ptr, hl) != 0) { setWireError(WireError.BadChecksum); return false; }
    this.headerLen = hl;
    this.payloadLen = total - hl;
    this.tos = get8(ptr + IP_FIELD_TOS);
    this.ident = get16(ptr + IP_FIELD_IDENT);
    const ff = get16(ptr + IP_FIELD_FLAGS_FRAG);
    this.dontFrag = (ff & FLAG_DF) != 0;
    this.moreFrags = (ff & FLAG_MF) != 0;
    this.fragOffset = <i32>(ff & 0x1fff) * 8;
    this.ttl = get8(ptr + IP_FIELD_TTL);
    this.protocol = get8(ptr + IP_FIELD_PROTOCOL);
    this.src = get32(ptr + IP_FIELD_SRC);
    this.dst = get32(ptr + IP_FIELD_DST);
    return true;
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
