// kernel/core/random/index.ts — the kernel's random numbers (TCP initial sequence
// numbers, tokens, DHCP xids). Sources in order of preference: a registered
// hardware source (virtio-rng), then RDRAND (CPUID.01H:ECX[30]), then — with a
// clear warning in the boot log — a weak generator seeded from the TSC.
import { cpuid, rdrand64, rdtsc } from "../../platform";
import { println } from "../console";

export abstract class RandomSource {
  abstract name(): string;
  /** Fills [ptr, ptr+len); returns the bytes written (short on failure). */
  abstract fill(ptr: usize, len: i32): i32;
}

/** RDRAND, 8 bytes per instruction. (RDSEED, CPUID.07H:EBX[18], would give
 *  full-entropy seeds; RDRAND's DRBG output is what a kernel pool wants.) */
class RdrandSource extends RandomSource {
  name(): string { return "rdrand"; }
  fill(ptr: usize, len: i32): i32 {
    const tmp = memory.data(8);
    let got = 0;
    while (got < len) {
      if (rdrand64(tmp) == 0) return got;
      const n = min(8, len - got);
      memory.copy(ptr + <usize>got, tmp, <usize>n);
      got += n;
    }
    return got;
  }
}

/** xorshift64* seeded from the TSC: NOT unpredictable. Only so the kernel
 *  runs where the machine offers nothing better; the boot log says so. */
class WeakSource extends RandomSource {
  state: u64 = 0;
  name(): string { return "weak (TSC-seeded xorshift, NOT secure)"; }
  fill(ptr: usize, len: i32): i32 {
    if (this.state == 0) this.state = (rdtsc() * 0x9e3779b97f4a7c15) | 1;
    for (let i = 0; i < len; i++) {
      let x = this.state;
      x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
      x ^= rdtsc();   // a little timing jitter on top
      this.state = x == 0 ? 0x2545f4914f6cdd1d : x;
      store<u8>(ptr + <usize>i, <u8>((this.state * 0x2545f4914f6cdd1d) >> 56));
    }
    return len;
  }
}

// @ts-ignore: decorator
@lazy
let hardware: RandomSource | null = null;
// @ts-ignore: decorator
@lazy
let rdrand: RandomSource | null = null;
// @ts-ignore: decorator
@lazy
let weak: WeakSource | null = null;
let probedCpu = false;
let warned = false;
// @ts-ignore: decorator
@lazy
let lastName = "none";

/** CPUID.01H:ECX bit 30: the RDRAND instruction exists. */
export function cpuHasRdrand(): bool {
  const r = memory.data(16);
  cpuid(0, 0, r);
  if (load<u32>(r) < 1) return false;
  cpuid(1, 0, r);
  return (load<u32>(r, 8) & (1 << 30)) != 0;
}

/** CPUID.07H:EBX bit 18: RDSEED exists (reported only). */
export function cpuHasRdseed(): bool {
  const r = memory.data(16);
  cpuid(0, 0, r);
  if (load<u32>(r) < 7) return false;
  cpuid(7, 0, r);
  return (load<u32>(r, 4) & (1 << 18)) != 0;
}

/** Registers the preferred source (virtio-rng does this when it comes up). */
export function setHardwareSource(s: RandomSource): void {
  hardware = s;
}

/** Fills [ptr, ptr+len) with random bytes, falling back along the chain when
 *  a source fails part-way. Never fails. */
export function randomBytes(ptr: usize, len: i32): void {
  let got = 0;
  const hw = hardware;
  if (hw !== null) {
    got = hw.fill(ptr, len);
    lastName = hw.name();
    if (got >= len) return;
  }
  if (!probedCpu) {
    probedCpu = true;
    if (cpuHasRdrand()) rdrand = new RdrandSource();
  }
  const rr = rdrand;
  if (rr !== null) {
    got += rr.fill(ptr + <usize>got, len - got);
    lastName = rr.name();
    if (got >= len) return;
  }
  if (!warned) {
    warned = true;
    println("random: WARNING: no virtio-rng and no RDRAND: using a weak TSC-seeded generator; " +
      "secrets and TCP sequence numbers are predictable (attach virtio-rng: skiff run --rng)");
  }
  if (weak === null) weak = new WeakSource();
  weak!.fill(ptr + <usize>got, len - got);
  lastName = weak!.name();
}

export function randomU32(): u32 {
  const b = memory.data(8);
  randomBytes(b, 4);
  return load<u32>(b);
}

export function randomU64(): u64 {
  const b = memory.data(8);
  randomBytes(b, 8);
  return load<u64>(b);
}

/** Name of the source that served the last request. */
export function randomSourceName(): string {
  return lastName;
}
