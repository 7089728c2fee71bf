// kernel/system/devices.ts — devices for apps, composed above the drivers.
// Devices are probed when first used (a block or net accessor, the network,
// random bytes: main.ts, step 3), so an app that uses none links no driver
// code; probeDevices() lets an app probe at startup instead, e.g. to send its
// logs to a virtio console.
import { startDevices } from "./main";
import * as random from "../core/random";

/** Finds and starts every virtio device now (one boot-log line each). */
export function probeDevices(): void {
  startDevices();
}

/** Fills [ptr, ptr + len) with random bytes: virtio-rng, else RDRAND, else a
 *  logged weak fallback (kernel/core/random). */
export function randomBytes(ptr: usize, len: i32): void {
  startDevices();
  random.randomBytes(ptr, len);
}

export function randomU32(): u32 {
  startDevices();
  return random.randomU32();
}

export function randomU64(): u64 {
  startDevices();
  return random.randomU64();
}
