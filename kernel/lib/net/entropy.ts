// kernel/lib/net/entropy.ts — where the stack's randomness comes from (initial
// sequence numbers, ephemeral ports, DHCP xid and jitter). The kernel injects a
// source (virtio-rng when present); tests inject a seeded one.

export abstract class EntropySource {
  /** Fills [ptr, ptr + len) with random bytes. */
  abstract fill(ptr: usize, len: i32): void;

  next32(): u32 {
    const b = memory.data(8);
    this.fill(b, 4);
    return load<u32>(b);
  }
  next64(): u64 {
    const b = memory.data(8);
    this.fill(b, 8);
    return load<u64>(b);
  }
}

/** Deterministic xorshift64* stream: for tests, and as the fallback until a
 *  hardware source is plugged in (then seed it from something unpredictable). */
export class SeededEntropy extends EntropySource {
  state: u64;
  constructor(seed: u64) {
    super();
    this.state = seed == 0 ? 0x9e3779b97f4a7c15 : seed;
  }
  fill(ptr: usize, len: i32): void {
    for (let i = 0; i < len; i++) {
      let x = this.state;
      x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
      this.state = x;
      store<u8>(ptr + <usize>i, <u8>((x * 0x2545f4914f6cdd1d) >> 56));
    }
  }
}

/** SipHash-2-4 of two 64-bit words under a 128-bit key: the keyed PRF behind
 *  initial sequence numbers (RFC 6528 §3: ISN = M + F(4-tuple, secret)). */
export function siphash2(k0: u64, k1: u64, m0: u64, m1: u64): u64 {
  let v0: u64 = k0 ^ 0x736f6d6570736575, v1: u64 = k1 ^ 0x646f72616e646f6d;
  let v2: u64 = k0 ^ 0x6c7967656e657261, v3: u64 = k1 ^ 0x7465646279746573;
  for (let w = 0; w < 3; w++) {
    const m: u64 = w == 0 ? m0 : w == 1 ? m1 : (<u64>16 << 56);
    v3 ^= m;
    for (let r = 0; r < 2; r++) {
      v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
      v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
      v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
      v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
    }
    v0 ^= m;
  }
  v2 ^= 0xff;
  for (let r = 0; r < 4; r++) {
    v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
    v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
  }
  return v0 ^ v1 ^ v2 ^ v3;
}
