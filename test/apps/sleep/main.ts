// test/apps/sleep — a task sleeps 10 × 100 ms and reports the guest clock at
// each wake-up; with `idle=<ms>` on the command line a timer then keeps the
// guest idle that long (the host measures QEMU's CPU time meanwhile).
import { println, bootInfo, Task, TimerHandler, spawn, after, requestExit, nowNs, wallClockNs, schedStats, taskSnapshot } from "skiff";

class Sleeper extends Task {
  n: i32 = 0;
  start: u64 = 0;
  constructor() { super("sleeper"); }
  poll(now: u64): void {
    if (this.n == 0 && this.start == 0) {
      this.start = now;
      println("sleep: start t=" + now.toString());
    } else {
      this.n++;
      println("sleep: tick " + this.n.toString() + " t=" + now.toString());
      if (this.n == 10) {
        println("sleep: done elapsed_ns=" + (now - this.start).toString());
        this.finish();
        startIdle();
        return;
      }
    }
    this.sleepFor(100_000_000);
  }
}

class IdleEnd extends TimerHandler {
  fire(now: u64): void {
    const s = schedStats();
    println("idle: done t=" + now.toString() + " idle_ns=" + s.idleNs.toString() + " halts=" + s.halts.toString() +
      " passes=" + s.passes.toString());
    const ts = taskSnapshot();
    println("tasks: " + ts.length.toString());
    requestExit(0);
  }
}

function startIdle(): void {
  const v = bootInfo().cmdline.get("idle");
  if (v === null) return;
  const ms = <u64>I32.parseInt(v);
  println("idle: start ms=" + ms.toString() + " t=" + nowNs().toString());
  after(ms * 1_000_000, new IdleEnd());
}

export function main(): i32 {
  println("sleep: wall clock unix=" + (wallClockNs() / 1_000_000_000).toString());
  spawn(new Sleeper());
  return 0;
}
