// kernel/lib/net/wire/udp.ts — UDP headers (RFC 768). Layer: wire. parse() checks
// the length field against the buffer (IP payload) and, unless the sender sent
// 0 or the device already verified it, the checksum with the pseudo-header.
import { get16, set16, l4ChecksumOk, fillL4Checksum, fillL4PseudoOnly } from "./bytes";
import { WireError, setWireError } from "./error";
import { IP_PROTO_UDP } from "./ipv4";

export const UDP_FIELD_SRC_PORT = 0;
export const UDP_FIELD_DST_PORT = 2;
export const UDP_FIELD_LENGTH = 4;
export const UDP_FIELD_CHECKSUM = 6;
export const UDP_HEADER_LEN = 8;

/** A view of a UDP header; check() guarantees its 8 bytes. */
export class UdpPacket {
  constructor(public ptr: usize, public len: i32) {}
  static check(ptr: usize, len: i32): UdpPacket | null {
    if (<u32>len < <u32>UDP_HEADER_LEN) { setWireError(WireError.Truncated); return null; }
    return new UdpPacket(ptr, len);
  }
  get srcPort(): u32 { return get16(this.ptr + UDP_FIELD_SRC_PORT); }
  set srcPort(v: u32) { set16(this.ptr + UDP_FIELD_SRC_PORT, v); }
  get dstPort(): u32 { return get16(this.ptr + UDP_FIELD_DST_PORT); }
  set dstPort(v: u32) { set16(this.ptr + UDP_FIELD_DST_PORT, v); }
  get length(): i32 { return <i32>get16(this.ptr + UDP_FIELD_LENGTH); }
  get checksumField(): u32 { return get16(this.ptr + UDP_FIELD_CHECKSUM); }
  get payload(): usize { return this.ptr + UDP_HEADER_LEN; }
}

export class UdpRepr {
  srcPort: u32 = 0;
  dstPort: u32 = 0;
  payloadLen: i32 = 0;

  static parse(ptr: usize, len: i32, src: u32, dst: u32, verifyChecksum: bool): UdpRepr | null {
    const p = UdpPacket.check(ptr, len);
    if (p == null) return null;
    const ulen = p.length;
    if (ulen < UDP_HEADER_LEN) { setWireError(WireError.BadLength); return null; }
    if (ulen > len) { setWireError(WireError.Truncated); return null; }
    if (verifyChecksum && p.checksumField != 0 && !l4ChecksumOk(src, dst, IP_PROTO_UDP, ptr, ulen)) {
      setWireError(WireError.BadChecksum); return null;
    }
    const r = new UdpRepr();
    r.srcPort = p.srcPort;
    r.dstPort = p.dstPort;
    r.payloadLen = ulen - UDP_HEADER_LEN;
    return r;
  }

  /** Writes the header; the payload must already be at ptr + 8. With
   *  offload the checksum field gets only the pseudo-header sum. */
  emit(ptr: usize, src: u32, dst: u32, offload: bool): void {
    set16(ptr + UDP_FIELD_SRC_PORT, this.srcPort);
    set16(ptr + UDP_FIELD_DST_PORT, this.dstPort);
    const total = UDP_HEADER_LEN + this.payloadLen;
    set16(ptr + UDP_FIELD_LENGTH, <u32>total);
    if (offload) fillL4PseudoOnly(src, dst, IP_PROTO_UDP, ptr, total, UDP_FIELD_CHECKSUM);
    else fillL4Checksum(src, dst, IP_PROTO_UDP, ptr, total, UDP_FIELD_CHECKSUM);
  }
}
