// test/apps/corebench — numbers for the core (bench/ reads these lines):
//   bench: timer_late_us mean=.. max=..   sleeps of 10 ms by a task: wake-up lateness
//   bench: task_switch_ns=..              two tasks waking each other (one loop pass each)
//   bench: page_alloc_free_ns=..          allocPages(1) + freePages, and for 16-page runs
//   bench: timer_arm_cancel_ns=..         after() + cancel() on the timer heap
import { println, Task, TimerHandler, spawn, wake, after, cancel, nowNs, allocPages, freePages, MemOwner, requestExit, schedStats } from "skiff";

const SLEEPS: i32 = 50;
const SWITCHES: i32 = 20000;

class Sleeper extends Task {
  n: i32 = 0;
  due: u64 = 0;
  sum: u64 = 0;
  worst: u64 = 0;
  constructor() { super("bench-sleeper"); }
  poll(now: u64): void {
    if (this.due != 0) {
      const late = now - this.due;
      this.sum += late;
      if (late > this.worst) this.worst = late;
      if (++this.n == SLEEPS) {
        println("bench: timer_late_us mean=" + (this.sum / <u64>SLEEPS / 1000).toString() + " max=" + (this.worst / 1000).toString());
        this.finish();
        pingPong();
        return;
      }
    }
    this.due = now + 10_000_000;
    this.sleepUntil(this.due);
  }
}

class Ping extends Task {
  other: Task | null = null;
  left: i32 = SWITCHES;
  start: u64 = 0;
  constructor(name: string) { super(name); }
  poll(now: u64): void {
    if (this.start == 0) this.start = nowNs();
    if (--this.left <= 0) {
      if (this.name == "ping") {
        const ns = nowNs() - this.start;
        println("bench: task_switch_ns=" + (ns / <u64>(2 * SWITCHES)).toString());
        allocBench();
      }
      this.finish();
      return;
    }
    wake(this.other!);
  }
}

function pingPong(): void {
  const a = new Ping("ping"), b = new Ping("pong");
  a.other = b; b.other = a;
  spawn(a); spawn(b);
}

class Nop extends TimerHandler { fire(now: u64): void {} }

function allocBench(): void {
  const N = 20000;
  let t0 = nowNs();
  for (let i = 0; i < N; i++) {
    const p = allocPages(1, MemOwner.Dma);
    freePages(p, 1);
  }
  println("bench: page_alloc_free_ns=" + ((nowNs() - t0) / <u64>N).toString());
  t0 = nowNs();
  for (let i = 0; i < N; i++) {
    const p = allocPages(16, MemOwner.Dma);
    freePages(p, 16);
  }
  println("bench: page_alloc_free_16_ns=" + ((nowNs() - t0) / <u64>N).toString());
  const h = new Nop();
  t0 = nowNs();
  for (let i = 0; i < N; i++) cancel(after(1_000_000_000 + <u64>i, h));
  println("bench: timer_arm_cancel_ns=" + ((nowNs() - t0) / <u64>N).toString());
  const s = schedStats();
  println("bench: done passes=" + s.passes.toString() + " halts=" + s.halts.toString());
  requestExit(0);
}

export function main(): i32 {
  spawn(new Sleeper());
  return 0;
}
