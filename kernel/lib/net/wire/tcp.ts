// kernel/lib/net/wire/tcp.ts — TCP segment headers (RFC 9293 §3.1) with the MSS
// (§3.2), window-scale (RFC 7323 §2) and SACK-permitted options; other options
// are skipped. Layer: wire. parse() checks the data offset against the buffer,
// every option's length against the header, and (unless the device verified
// it) the checksum; after it succeeds no field read leaves the segment.
import { get8, get16, get32, set8, set16, set32, l4ChecksumOk, fillL4Checksum, fillL4PseudoOnly } from "./bytes";
import { WireError, setWireError } from "./error";
import { IP_PROTO_TCP } from "./ipv4";

export const TCP_FIELD_SRC_PORT = 0;
export const TCP_FIELD_DST_PORT = 2;
export const TCP_FIELD_SEQ = 4;
export const TCP_FIELD_ACK = 8;
export const TCP_FIELD_OFF_FLAGS = 12;
export const TCP_FIELD_WINDOW = 14;
export const TCP_FIELD_CHECKSUM = 16;
export const TCP_FIELD_URGENT = 18;
export const TCP_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;

export const TCP_FIN: u32 = 0x01;
export const TCP_SYN: u32 = 0x02;
export const TCP_RST: u32 = 0x04;
export const TCP_PSH: u32 = 0x08;
export const TCP_ACK: u32 = 0x10;
export const TCP_URG: u32 = 0x20;

const OPT_END: u32 = 0;
const OPT_NOP: u32 = 1;
const OPT_MSS: u32 = 2;
const OPT_WSCALE: u32 = 3;
const OPT_SACK_PERM: u32 = 4;

/** A view of a TCP header. check() guarantees 20 bytes and a data offset
 *  inside the buffer; options lie in [ptr + 20, ptr + headerLen). */
export class TcpPacket {
  constructor(public ptr: usize, public len: i32) {}
  static check(ptr: usize, len: i32): TcpPacket | null {
    if (<u32>len < <u32>TCP_HEADER_LEN) { setWireError(WireError.Truncated); return null; }
    const hl = <i32>(get16(ptr + TCP_FIELD_OFF_FLAGS) >> 12) * 4;
    if (hl < TCP_HEADER_LEN) { setWireError(WireError.BadHeaderLen); return null; }
    if (hl > len) { setWireError(WireError.Truncated); return null; }
    return new TcpPacket(ptr, len);
  }
  get srcPort(): u32 { return get16(this.ptr + TCP_FIELD_SRC_PORT); }
  set srcPort(v: u32) { set16(this.ptr + TCP_FIELD_SRC_PORT, v); }
  get dstPort(): u32 { return get16(this.ptr + TCP_FIELD_DST_PORT); }
  set dstPort(v: u32) { set16(this.ptr + TCP_FIELD_DST_PORT, v); }
  get seq(): u32 { return get32(this.ptr + TCP_FIELD_SEQ); }
  set seq(v: u32) { set32(this.ptr + TCP_FIELD_SEQ, v); }
  get ack(): u32 { return get32(this.ptr + TCP_FIELD_ACK); }
  set ack(v: u32) { set32(this.ptr + TCP_FIELD_ACK, v); }
  get headerLen(): i32 { return <i32>(get16(this.ptr + TCP_FIELD_OFF_FLAGS) >> 12) * 4; }
  get flags(): u32 { return get16(this.ptr + TCP_FIELD_OFF_FLAGS) & 0x3f; }
  get window(): u32 { return get16(this.ptr + TCP_FIELD_WINDOW); }
  set window(v: u32) { set16(this.ptr + TCP_FIELD_WINDOW, v); }
  get urgent(): u32 { return get16(this.ptr + TCP_FIELD_URGENT); }
  get payload(): usize { return this.ptr + <usize>this.headerLen; }
  get payloadLen(): i32 { return this.len - this.headerLen; }
}

export class TcpRepr {
  srcPort: u32 = 0;
  dstPort: u32 = 0;
  seq: u32 = 0;
  ack: u32 = 0;
  flags: u32 = 0;
  window: u32 = 0;
  urgent: u32 = 0;
  /** MSS option value, 0 when absent. */
  mss: u32 = 0;
  /** Window-scale shift, -1 when absent (RFC 7323: values above 14 are used as 14). */
  wscale: i32 = -1;
  sackPermitted: bool = false;
  headerLen: i32 = TCP_HEADER_LEN;
  payloadLen: i32 = 0;

  @inline has(f: u32): bool { return (this.flags & f) != 0; }

  /** Back to a fresh segment's values (a TcpRepr reused for every send). */
  clear(): void {
    this.srcPort = 0; this.dstPort = 0; this.seq = 0; this.ack = 0; this.flags = 0;
    this.window = 0; this.urgent = 0; this.mss = 0; this.wscale = -1; this.sackPermitted = false;
    this.headerLen = TCP_HEADER_LEN; this.payloadLen = 0;
  }
  /** Sequence space the segment occupies (RFC 9293 §3.4: SYN and FIN count). */
  get segLen(): u32 {
    return <u32>this.payloadLen + ((this.flags & TCP_SYN) ? 1 : 0) + ((this.flags & TCP_FIN) ? 1 : 0);
  }

  static parse(ptr: usize, len: i32, src: u32, dst: u32, verifyChecksum: bool): TcpRepr | null {
    const r = new TcpRepr();
    return r.parseFrom(ptr, len, src, dst, verifyChecksum) ? r : null;
  }

  /** parse() into this object (every field set, nothing allocated: the
   *  receive path reuses one per TCP layer). False (wireError() says why)
   *  leaves the fields undefined. */
  parseFrom(ptr: usize, len: i32, src: u32, dst: u32, verifyChecksum: bool): bool {
    if (<u32>len < <u32>TCP_HEADER_LEN) { setWireError(WireError.Truncated); return false; }
    const offFlags = get16(ptr + TCP_FIELD_OFF_FLAGS);
    const hl = <i32>(offFlags >> 12) * 4;
    if (hl < TCP_HEADER_LEN) { setWireError(WireError.BadHeaderLen); return false; }
    if (hl > len) { setWireError(WireError.Truncated); return false; }
    if (verifyChecksum && !l4ChecksumOk(src, dst, IP_PROTO_TCP, ptr, len)) { setWireError(WireError.BadChecksum); return false; }
    const r = this;
    r.srcPort = get16(ptr + TCP_FIELD_SRC_PORT);
    r.dstPort = get16(ptr + TCP_FIELD_DST_PORT);
    r.seq = get32(ptr + TCP_FIELD_SEQ);
    r.ack = get32(ptr + TCP_FIELD_ACK);
    r.flags = offFlags & 0x3f;
    r.window = get16(ptr + TCP_FIELD_WINDOW);
    r.urgent = get16(ptr + TCP_FIELD_URGENT);
    r.headerLen = hl;
    r.payloadLen = len - hl;
    r.mss = 0;
    r.wscale = -1;
    r.sackPermitted = false;
    // Options: kind, or kind + length (>= 2) + data, all inside the header.
    let i = TCP_HEADER_LEN;
    while (i < hl) {
      const kind = get8(ptr + <usize>i);
      if (kind == OPT_END) break;
      if (kind == OPT_NOP) { i++; continue; }
      if (i + 1 >= hl) { setWireError(WireError.BadOption); return false; }
      const olen = <i32>get8(ptr + <usize>i + 1);
      if (olen < 2 || i + olen > hl) { setWireError(WireError.BadOption); return false; }
      if (kind == OPT_MSS) {
        if (olen != 4) { setWireError(WireError.BadOption); return false; }
        r.mss = get16(ptr + <usize>i + 2);
      } else if (kind == OPT_WSCALE) {
        if (olen != 3) { setWireError(WireError.BadOption); return false; }
        const s = <i32>get8(ptr + <usize>i + 2);
        r.wscale = s > 14 ? 14 : s;
      } else if (kind == OPT_SACK_PERM) {
        if (olen != 2) { setWireError(WireError.BadOption); return false; }
        r.sackPermitted = true;
      }
      i += olen;
    }
    return true;
  }

  /** Header length emit() will write: options only on SYN segments. */
  get emitHeaderLen(): i32 {
    let n = TCP_HEADER_LEN;
    if (this.mss != 0) n += 4;
    if (this.wscale >= 0) n += 4;      // NOP + 3-byte option keeps 4-byte alignment
    return n;
  }

  /** Writes the header at ptr and the checksum over header + payloadLen bytes
   *  that must already follow it. With offload, only the pseudo-header sum. */
  emit(ptr: usize, src: u32, dst: u32, offload: bool): void {
    const hl = this.emitHeaderLen;
    set16(ptr + TCP_FIELD_SRC_PORT, this.srcPort);
    set16(ptr + TCP_FIELD_DST_PORT, this.dstPort);
    set32(ptr + TCP_FIELD_SEQ, this.seq);
    set32(ptr + TCP_FIELD_ACK, this.ack);
    set16(ptr + TCP_FIELD_OFF_FLAGS, (<u32>(hl >> 2) << 12) | (this.flags & 0x3f));
    set16(ptr + TCP_FIELD_WINDOW, this.window);
    set16(ptr + TCP_FIELD_URGENT, this.urgent);
    let o: usize = ptr + TCP_HEADER_LEN;
    if (this.mss != 0) {
      set8(o, OPT_MSS); set8(o + 1, 4); set16(o + 2, this.mss); o += 4;
    }
    if (this.wscale >= 0) {
      set8(o, OPT_NOP); set8(o + 1, OPT_WSCALE); set8(o + 2, 3); set8(o + 3, <u32>this.wscale); o += 4;
    }
    const total = hl + this.payloadLen;
    if (offload) fillL4PseudoOnly(src, dst, IP_PROTO_TCP, ptr, total, TCP_FIELD_CHECKSUM);
    else fillL4Checksum(src, dst, IP_PROTO_TCP, ptr, total, TCP_FIELD_CHECKSUM);
  }
}
