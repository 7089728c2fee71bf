// kernel/platform/arch/pit.ts — the 8254 programmable interval timer, used only as a
// reference clock to calibrate the TSC. Channel 0 (its gate is always high; on
// microvm there is no port 0x61 speaker gate for channel 2) is set to mode 0
// with a full 65536 count and read back with the latch command (8254 datasheet:
// control word SC=00 RW=11 M=000, counter latch command SC=00 RW=00). Mode 0
// raises IRQ0 once at terminal count and then keeps counting down silently, so
// no periodic interrupt (and no host timer) is left running afterwards.
import { inb, outb, rdtsc } from "..";

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
 *  wraps). Returns the TSC rate in Hz, or 0 when no PIT answers.
 *
 *  The count is read back as 16 bits, so a gap of more than 65536 ticks
 *  (55 ms) between two reads loses whole wraps: on a loaded host the vCPU
 *  thread can be descheduled that long, and the TSC would look several times
 *  faster than it is. Such a gap is then at least 65536 of the window's
 *  65536 + `pitTicks` ticks (over two thirds for 25 ms windows), so a window in
 *  which one read-to-read gap took more than half of the whole window's TSC
 *  ticks is measured again, up to 5 times (reads are microseconds apart while
 *  the vCPU runs). */
export function pitCalibrateTsc(pitTicks: u32): u64 {
  let hz: u64 = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    hz = measureOnce(pitTicks);
    if (hz != u64.MAX_VALUE) return hz;
  }
  return lastHz;                        // five interrupted windows: the last estimate
}

let lastHz: u64 = 0;

/** One window: the rate, 0 without a PIT, or u64.MAX_VALUE when interrupted. */
function measureOnce(pitTicks: u32): u64 {
  outb(PIT_MODE, 0x30);                 // ch0, lo/hi byte, mode 0, binary
  outb(PIT_CH0, 0);
  outb(PIT_CH0, 0);                     // count 0 = 65536
  let prev = readCh0();
  const t0 = rdtsc();
  let last = t0;
  let maxGap: u64 = 0;
  let elapsed: u32 = 0;
  let stuck: u32 = 0;
  // A missing PIT reads a constant (0xffff or 0); give up after many reads
  // without a change rather than trusting a TSC we have not calibrated.
  while (elapsed < pitTicks) {
    const now = readCh0();
    const t = rdtsc();
    if (t - last > maxGap) maxGap = t - last;
    last = t;
    const d = (prev - now) & 0xffff;
    if (d == 0) {
      if (++stuck > 200000) return 0;
      continue;
    }
    stuck = 0;
    elapsed += d;
    prev = now;
  }
  const t1 = rdtsc();
  if (t1 <= t0) return 0;
  lastHz = (t1 - t0) * PIT_HZ / <u64>elapsed;
  if (maxGap > (t1 - t0) / 2) return u64.MAX_VALUE;
  return lastHz;
}
