// kernel/devices.ts — devices for apps, composed above the drivers. Devices
// are probed when first used (a block or net accessor, the network, random
// bytes), so an app that uses none links no driver code; probeDevices() lets
// an app probe at startup instead, e.g. to send its logs to a virtio console.
import { ensureVirtio } from "./virtio";
import * as random from "./random";

/** Finds and starts every virtio device now (one boot-log line each). */
export function probeDevices(): void {
  ensureVirtio();
}

/** Fills [ptr, ptr + len) with random bytes: virtio-rng, else RDRAND, else a
 *  logged weak fallback (kernel/random). */
export function randomBytes(ptr: usize, len: i32): void {
  ensureVirtio();
  random.randomBytes(ptr, len);
}

export function randomU32(): u32 {
  ensureVirtio();
  return random.randomU32();
}

export function randomU64(): u64 {
  ensureVirtio();
  return random.randomU64();
}
