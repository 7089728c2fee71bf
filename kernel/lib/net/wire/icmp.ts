// kernel/lib/net/wire/icmp.ts — ICMPv4 (RFC 792): echo request/reply and
// destination unreachable. Layer: wire. parse() checks the length and the
// checksum over the whole message; the body (echo data, or the quoted IP
// header + 8 bytes) is left in place and referred to by offset.
import { get8, get16, set8, set16, set32, get32, checksum } from "./bytes";
import { WireError, setWireError } from "./error";

export const ICMP_FIELD_TYPE = 0;
export const ICMP_FIELD_CODE = 1;
export const ICMP_FIELD_CHECKSUM = 2;
export const ICMP_FIELD_IDENT = 4;      // echo
export const ICMP_FIELD_SEQ = 6;        // echo
export const ICMP_FIELD_REST = 4;       // the 32-bit second word of other types
export const ICMP_HEADER_LEN = 8;

export const ICMP_ECHO_REPLY: u32 = 0;
export const ICMP_DEST_UNREACHABLE: u32 = 3;
export const ICMP_ECHO_REQUEST: u32 = 8;
export const ICMP_TIME_EXCEEDED: u32 = 11;

export const UNREACH_PROTOCOL: u32 = 2;
export const UNREACH_PORT: u32 = 3;
export const UNREACH_FRAG_NEEDED: u32 = 4;

/** A view of an ICMP message; check() guarantees the 8-byte header. */
export class IcmpPacket {
  constructor(public ptr: usize, public len: i32) {}
  static check(ptr: usize, len: i32): IcmpPacket | null {
    if (<u32>len < <u32>ICMP_HEADER_LEN) { setWireError(WireError.Truncated); return null; }
    return new IcmpPacket(ptr, len);
  }
  get type(): u32 { return get8(this.ptr + ICMP_FIELD_TYPE); }
  set type(v: u32) { set8(this.ptr + ICMP_FIELD_TYPE, v); }
  get code(): u32 { return get8(this.ptr + ICMP_FIELD_CODE); }
  set code(v: u32) { set8(this.ptr + ICMP_FIELD_CODE, v); }
  get ident(): u32 { return get16(this.ptr + ICMP_FIELD_IDENT); }
  get seq(): u32 { return get16(this.ptr + ICMP_FIELD_SEQ); }
  get rest(): u32 { return get32(this.ptr + ICMP_FIELD_REST); }
  get checksumOk(): bool { return checksum(this.ptr, this.len) == 0; }
}

export class IcmpRepr {
  type: u32 = 0;
  code: u32 = 0;
  /** Echo identifier and sequence number, or the raw second word otherwise. */
  ident: u32 = 0;
  seq: u32 = 0;
  rest: u32 = 0;
  /** Bytes after the 8-byte header: echo data, or the quoted datagram. */
  dataLen: i32 = 0;

  static parse(ptr: usize, len: i32): IcmpRepr | null {
    const p = IcmpPacket.check(ptr, len);
    if (p == null) return null;
    if (!p.checksumOk) { setWireError(WireError.BadChecksum); return null; }
    const r = new IcmpRepr();
    r.type = p.type;
    r.code = p.code;
    r.ident = p.ident;
    r.seq = p.seq;
    r.rest = p.rest;
    r.dataLen = len - ICMP_HEADER_LEN;
    return r;
  }

  /** Writes the header at ptr; the dataLen bytes at ptr + 8 must already be in
   *  place, since the checksum covers them. */
  emit(ptr: usize): void {
    set8(ptr + ICMP_FIELD_TYPE, this.type);
    set8(ptr + ICMP_FIELD_CODE, this.code);
    set16(ptr + ICMP_FIELD_CHECKSUM, 0);
    if (this.type == ICMP_ECHO_REQUEST || this.type == ICMP_ECHO_REPLY) {
      set16(ptr + ICMP_FIELD_IDENT, this.ident);
      set16(ptr + ICMP_FIELD_SEQ, this.seq);
    } else {
      set32(ptr + ICMP_FIELD_REST, this.rest);
    }
    set16(ptr + ICMP_FIELD_CHECKSUM, checksum(ptr, ICMP_HEADER_LEN + this.dataLen));
  }
}
