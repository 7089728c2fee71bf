// kernel/lib/net/wire/bytes.ts — network-byte-order loads and stores, and the
// Internet checksum (RFC 1071) used by IPv4, ICMP, UDP and TCP.
// Callers check lengths first; these helpers do no bounds checks of their own.

// @ts-ignore: decorator
@inline
export function get8(p: usize): u32 { return <u32>load<u8>(p); }
// @ts-ignore: decorator
@inline
export function get16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
// @ts-ignore: decorator
@inline
export function get32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
// @ts-ignore: decorator
@inline
export function set8(p: usize, v: u32): void { store<u8>(p, <u8>v); }
// @ts-ignore: decorator
@inline
export function set16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }
// @ts-ignore: decorator
@inline
export function set32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }

/** A MAC address is kept as the low 48 bits of a u64, first octet highest. */
export function getMac(p: usize): u64 {
  return (<u64>get16(p) << 32) | <u64>get32(p + 2);
}
export function setMac(p: usize, mac: u64): void {
  set16(p, <u32>(mac >> 32));
  set32(p + 2, <u32>mac);
}
export const MAC_BROADCAST: u64 = 0xffff_ffff_ffff;

/** Adds the 16-bit big-endian words of [p, p + len) to sum (odd tail padded with 0).
 *  RFC 1071 §2(B): the ones'-complement sum does not depend on byte order,
 *  so the words are added as memory holds them (little-endian), eight bytes
 *  a load, and only the folded result is swapped. Per packet this is the
 *  stack's biggest loop: wide loads mean fewer bounds checks and, under TCG,
 *  fewer emulated instructions. */
export function csumAdd(sum: u64, p: usize, len: i32): u64 {
  let acc: u64 = 0;
  let i = 0;
  for (; i + 32 <= len; i += 32) {
    const q = p + <usize>i;
    const a = load<u64>(q), b = load<u64>(q, 8), c = load<u64>(q, 16), d = load<u64>(q, 24);
    acc += (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32) +
           (c & 0xffffffff) + (c >> 32) + (d & 0xffffffff) + (d >> 32);
  }
  for (; i + 8 <= len; i += 8) {
    const a = load<u64>(p + <usize>i);
    acc += (a & 0xffffffff) + (a >> 32);
  }
  if (i + 4 <= len) { acc += <u64>load<u32>(p + <usize>i); i += 4; }
  if (i + 2 <= len) { acc += <u64>load<u16>(p + <usize>i); i += 2; }
  if (i < len) acc += <u64>load<u8>(p + <usize>i);      // the high byte of a big-endian word
  const f = csumFold(acc);
  return sum + <u64>(((f & 0xff) << 8) | (f >> 8));
}

/** Folds a running sum to 16 bits (not complemented). */
export function csumFold(sum: u64): u32 {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return <u32>sum;
}

/** The finished checksum field value over [p, p + len). */
export function checksum(p: usize, len: i32): u32 {
  return ~csumFold(csumAdd(0, p, len)) & 0xffff;
}

/** Sum of the IPv4 pseudo-header (RFC 793 §3.1, RFC 768) for an L4 checksum. */
export function pseudoSum(src: u32, dst: u32, proto: u32, len: i32): u64 {
  return <u64>(src >> 16) + <u64>(src & 0xffff) + <u64>(dst >> 16) + <u64>(dst & 0xffff) + <u64>proto + <u64>len;
}

/** True when an L4 segment at [p, p + len) carries a correct checksum. */
export function l4ChecksumOk(src: u32, dst: u32, proto: u32, p: usize, len: i32): bool {
  return csumFold(csumAdd(pseudoSum(src, dst, proto, len), p, len)) == 0xffff;
}

/** Writes the L4 checksum at p + fieldOff over the whole segment [p, p + len). */
export function fillL4Checksum(src: u32, dst: u32, proto: u32, p: usize, len: i32, fieldOff: i32): void {
  set16(p + <usize>fieldOff, 0);
  let c = ~csumFold(csumAdd(pseudoSum(src, dst, proto, len), p, len)) & 0xffff;
  if (proto == 17 && c == 0) c = 0xffff;     // RFC 768: 0 means "no checksum"
  set16(p + <usize>fieldOff, c);
}

/** For checksum offload (virtio VIRTIO_NET_HDR_F_NEEDS_CSUM): the field holds the
 *  folded pseudo-header sum, uncomplemented; the device adds the segment and
 *  complements. */
export function fillL4PseudoOnly(src: u32, dst: u32, proto: u32, p: usize, len: i32, fieldOff: i32): void {
  set16(p + <usize>fieldOff, csumFold(pseudoSum(src, dst, proto, len)));
}

export function ipToString(a: u32): string {
  return (a >> 24).toString() + "." + ((a >> 16) & 255).toString() + "." + ((a >> 8) & 255).toString() + "." + (a & 255).toString();
}

/** Parses dotted-quad "a.b.c.d"; returns false in ok[0] on bad input. */
export function parseIp(s: string, ok: StaticArray<bool>): u32 {
  let v: u32 = 0, part: u32 = 0, digits = 0, dots = 0;
  ok[0] = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + <u32>(c - 48);
      digits++;
      if (part > 255 || digits > 3) return 0;
    } else if (c == 46) {
      if (digits == 0 || dots == 3) return 0;
      v = (v << 8) | part; part = 0; digits = 0; dots++;
    } else return 0;
  }
  if (digits == 0 || dots != 3) return 0;
  ok[0] = true;
  return (v << 8) | part;
}

export function macToString(m: u64): string {
  let s = "";
  for (let i = 5; i >= 0; i--) {
    const b = <u32>((m >> (<u64>i * 8)) & 0xff);
    s += (b < 16 ? "0" : "") + b.toString(16) + (i > 0 ? ":" : "");
  }
  return s;
}
