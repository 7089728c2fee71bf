// test/apps/irq — interrupts through the I/O APIC and the LAPIC timer: the
// CMOS RTC's periodic interrupt (ISA IRQ 8, 64 Hz) is routed with irqForIsa;
// its handler runs from the event loop and wakes a task that counts 16 of them.
import { println, Task, IrqHandler, TimerHandler, irqForIsa, irqCountFor, irqTotal, spawn, wake, after, cancel, requestExit, Timer } from "skiff";
import { cmosRead, cmosWrite, RTC_REG_A, RTC_REG_B, RTC_REG_C } from "skiff/kernel/platform/arch/cmos";

const WANT: i32 = 16;

class Counter extends Task {
  seen: i32 = 0;
  phase: i32 = 0;
  constructor() { super("irq-counter"); }
  poll(now: u64): void {
    if (this.phase == 0) {             // first a sleep: the LAPIC deadline timer must fire
      this.phase = 1;
      this.sleepFor(50_000_000);
      return;
    }
    if (this.phase == 1) {
      this.phase = 2;
      if (irqCountFor(0xf0) == 0) println("irq: FAILED, no LAPIC timer interrupt during a sleep");
      cmosWrite(RTC_REG_A, (cmosRead(RTC_REG_A) & 0xf0) | 10);   // rate 10: 32768 >> 9 = 64 Hz
      cmosRead(RTC_REG_C);
      cmosWrite(RTC_REG_B, cmosRead(RTC_REG_B) | 0x40);          // periodic interrupt enable
      return;
    }
    if (this.seen >= WANT) {
      cmosWrite(RTC_REG_B, cmosRead(RTC_REG_B) & ~0x40);   // periodic interrupt off
      println("irq: " + this.seen.toString() + " RTC interrupts on vector 0x" + vector.toString(16) +
        ", timer vector count " + irqCountFor(0xf0).toString() + ", total " + irqTotal().toString());
      cancel(watchdog!);
      this.finish();
    }
  }
}

const counter = new Counter();
let vector: i32 = -1;
let watchdog: Timer | null = null;

class Rtc extends IrqHandler {
  handleIrq(v: u32): void {
    // Reading register C acknowledges the RTC; without it no further interrupt comes.
    const c = cmosRead(RTC_REG_C);
    if ((c & 0x40) != 0) { counter.seen++; wake(counter); }
  }
}

class Timeout extends TimerHandler {
  fire(now: u64): void {
    println("irq: FAILED, " + counter.seen.toString() + " RTC interrupts in 5 s (total " + irqTotal().toString() + ")");
    requestExit(5);
  }
}

export function main(): i32 {
  vector = irqForIsa(8, new Rtc());
  if (vector < 0) { println("irq: no route for IRQ 8"); return 2; }
  spawn(counter);
  watchdog = after(5_000_000_000, new Timeout());
  println("irq: RTC on vector 0x" + vector.toString(16));
  return 0;
}
