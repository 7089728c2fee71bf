// kernel/arch/pit.ts — the 8254 programmable interval timer, used only as a
// reference clock to calibrate the TSC. Channel 0 (its gate is always high; on
// microvm there is no port 0x61 speaker gate for channel 2) is set to mode 0
// with a full 65536 count and read back with the latch command (8254 datasheet:
// control word SC=00 RW=11 M=000, counter latch command SC=00 RW=00). Mode 0
// raises IRQ0 once at terminal count and then keeps counting down silently, so
// no periodic interrupt (and no host timer) is left running afterwards.
import { inb, outb, rdtsc } from "../platform";

export const PIT_HZ: u64 = 1193182;
const PIT_CH0: u32 = 0x40;
const PIT_MODE: u32 = 0x43;

function readCh0(): u32 {
  outb(PIT_MODE, 0x00);                 // latch channel 0
  const lo = inb(PIT_CH0);
  const hi = inb(PIT_CH0);
  return (hi << 8) | lo;
}

/** Measures TSC ticks over `pitTicks` PIT ticks (< 65536 * k, counted across
 *  wraps). Returns the TSC rate in Hz, or 0 when no PIT answers. */
export function pitCalibrateTsc(pitTicks: u32): u64 {
  outb(PIT_MODE, 0x30);                 // ch0, lo/hi byte, mode 0, binary
  outb(PIT_CH0, 0);
  outb(PIT_CH0, 0);                     // count 0 = 65536
  let prev = readCh0();
  const t0 = rdtsc();
  let elapsed: u32 = 0;
  let stuck: u32 = 0;
  // A missing PIT reads a constant (0xffff or 0); give up after many reads
  // without a change rather than trusting a TSC we have not calibrated.
  while (elapsed < pitTicks) {
    const now = readCh0();
    const d = (prev - now) & 0xffff;
    if (d == 0) {
      if (++stuck > 200000) return 0;
      continue;
    }
    // A backwards jump larger than half the range is not a wrap we can tell
    // apart from garbage; the count only runs down.
    stuck = 0;
    elapsed += d;
    prev = now;
  }
  const t1 = rdtsc();
  if (t1 <= t0) return 0;
  return (t1 - t0) * PIT_HZ / <u64>elapsed;
}
