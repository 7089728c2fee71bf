// bench/apps/corebench — the core suite's guest (bench/core.ts reads its
// `bench:` lines; issue #3):
//   bench: sleep req_us=R late_ns=a,b,...   each sleep's lateness: woken at - (asked at + R)
//   bench: task_switch n=N ns=T              two tasks waking each other, N switches
//   bench: page_alloc_free pages=N ns=T      allocPages(1) + freePages, N times
//   bench: page_alloc_free_16 runs=N ns=T    the same for 16-page runs
//   bench: timer_arm_cancel n=N ns=T         after() + cancel() on the timer heap
// With `corebench.idle` it prints `bench: idle` and sleeps (halting) until
// QEMU is killed: the host reads QEMU's CPU time meanwhile.
import { println, bootInfo, Task, TimerHandler, spawn, wake, after, cancel, nowNs, allocPages, freePages, MemOwner, requestExit, schedStats } from "skiff";

const SLEEPS: i32 = 100;
const REQUESTS: u64[] = [1_000_000, 10_000_000];
const SWITCHES: i32 = 20000;

/** Sleeps SLEEPS times for each requested duration, recording lateness. */
class Sleeper extends Task {
  which: i32 = 0;
  n: i32 = 0;
  due: u64 = 0;
  late: string[] = [];
  constructor() { super("bench-sleeper"); }
  poll(now: u64): void {
    if (this.due != 0) {
      this.late.push((now - this.due).toString());
      if (++this.n == SLEEPS) {
        println("bench: sleep req_us=" + (REQUESTS[this.which] / 1000).toString() + " late_ns=" + this.late.join(","));
        this.late = [];
        this.n = 0;
        if (++this.which == REQUESTS.length) {
          this.finish();
          pingPong();
          return;
        }
      }
    }
    // "now" is when poll runs: the request starts here, as an app's sleep would.
    this.due = nowNs() + REQUESTS[this.which];
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
        println("bench: task_switch n=" + (2 * SWITCHES).toString() + " ns=" + (nowNs() - this.start).toString());
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
  println("bench: page_alloc_free pages=" + N.toString() + " ns=" + (nowNs() - t0).toString());
  // Fewer 16-page runs: each zeroes 64 KiB, about 0.3 ms under TCG.
  const N16 = N / 10;
  t0 = nowNs();
  for (let i = 0; i < N16; i++) {
    const p = allocPages(16, MemOwner.Dma);
    freePages(p, 16);
  }
  println("bench: page_alloc_free_16 runs=" + N16.toString() + " ns=" + (nowNs() - t0).toString());
  const h = new Nop();
  t0 = nowNs();
  for (let i = 0; i < N; i++) cancel(after(1_000_000_000 + <u64>i, h));
  println("bench: timer_arm_cancel n=" + N.toString() + " ns=" + (nowNs() - t0).toString());
  const s = schedStats();
  println("bench: done passes=" + s.passes.toString() + " halts=" + s.halts.toString());
  requestExit(0);
}

/** Sleeps an hour at a time: the loop halts between wake-ups. */
class Idler extends Task {
  constructor() { super("bench-idle"); }
  poll(now: u64): void { this.sleepUntil(now + 3_600_000_000_000); }
}

export function main(): i32 {
  if (bootInfo().cmdline.has("corebench.idle")) {
    println("bench: idle");
    spawn(new Idler());
  } else {
    spawn(new Sleeper());
  }
  return 0;
}
