// kernel/core/sched/loop.ts — the event loop and its tasks (docs/ARCHITECTURE.md, the scheduler).
// One pass: drain pending interrupts → drivers' service routines → the tasks
// that were ready when the pass began → due timers → halt (sti; hlt) until the
// next interrupt or the nearest deadline. One vCPU; the kernel runs with
// interrupts off except inside that halt, so nothing here needs locking.
//
// A task is polled when ready. After poll returns it waits to be woken
// (wake(), its sleep deadline) unless it asked for another turn with again()
// or ended with finish() — the Rust-future contract, without closures.
import { rdtsc, irq_wait } from "../../platform";
import { println } from "../console";
import { dispatchPending, claimVector, IrqHandler, TIMER_VECTOR, ensureInterrupts, interruptSource } from "../irq";
import { nowNs, ticksToNs, armDeadline, initDeadlineTimer, ensureClock, deadlineTimerMode } from "../time";
import { bootInfo } from "../../platform/bootinfo";
import { Timer, TimerHeap, TimerHandler } from "./timer";
import { Guarded, runGuarded, reportFault, FaultSite, FAULT_NONE } from "../fault";

/** A task's poll, run guarded: a fault ends that task only. */
class TaskPoll extends Guarded {
  constructor(public task: Task, public now: u64) { super(); }
  run(): void { this.task.poll(this.now); }
}

/** A timer's handler, run guarded: a fault cancels that timer only. */
class TimerFire extends Guarded {
  constructor(public handler: TimerHandler, public now: u64) { super(); }
  run(): void { this.handler.fire(this.now); }
}

export enum TaskState {
  Ready = 0,
  Running = 1,
  Waiting = 2,
  Sleeping = 3,
  Done = 4,
}

export function taskStateName(s: TaskState): string {
  switch (s) {
    case TaskState.Ready: return "ready";
    case TaskState.Running: return "running";
    case TaskState.Waiting: return "waiting";
    case TaskState.Sleeping: return "sleeping";
    default: return "done";
  }
}

/** Wakes a sleeping task when its deadline passes. */
class TaskWaker extends TimerHandler {
  constructor(public task: Task) { super(); }
  fire(nowNs: u64): void { wake(this.task); }
}

export abstract class Task {
  id: u32 = 0;
  state: TaskState = TaskState.Waiting;
  /** CPU time spent in poll, ns; number of polls; polls over the hog threshold. */
  cpuNs: u64 = 0;
  runs: u64 = 0;
  overruns: u64 = 0;
  maxRunNs: u64 = 0;
  /** Polls that faulted (the first one ends the task). */
  faults: u64 = 0;
  /** A daemon task does not keep the event loop alive by itself. */
  daemon: bool = false;
  wokenWhileRunning: bool = false;
  spawned: bool = false;
  private sleepTimer: Timer | null = null;

  constructor(public name: string = "task") {}

  abstract poll(nowNs: u64): void;

  /** Sleep until monotonic time ns (or an earlier wake()). */
  sleepUntil(ns: u64): void {
    if (this.state == TaskState.Done) return;
    let t = this.sleepTimer;
    if (t === null) { t = new Timer(new TaskWaker(this)); this.sleepTimer = t; }
    timers.setDaemon(t, this.daemon);
    timers.insert(t, ns);
    this.state = TaskState.Sleeping;
  }

  sleepFor(ns: u64): void {
    this.sleepUntil(nowNs() + ns);
  }

  /** Poll me again on the next pass (a yield point for long work). */
  again(): void {
    if (this.state == TaskState.Running) this.wokenWhileRunning = true;
    else wake(this);
  }

  /** The task is over: it is dropped from the scheduler. */
  finish(): void {
    this.cancelSleep();
    if (this.state == TaskState.Running) { this.state = TaskState.Done; return; }
    this.state = TaskState.Done;
    removeTask(this);
  }

  cancelSleep(): void {
    const t = this.sleepTimer;
    if (t !== null) timers.remove(t);
  }
}

/** A driver's per-pass service routine (after interrupts, before tasks). */
export abstract class Service {
  abstract service(nowNs: u64): void;
}

// --- state -------------------------------------------------------------------

// @ts-ignore: decorator
@lazy
const timers = new TimerHeap();
// @ts-ignore: decorator
@lazy
const tasks: Task[] = [];
// @ts-ignore: decorator
@lazy
let readyQueue: Task[] = [];
/** The other half of the ready queue's double buffer (no allocation per pass). */
// @ts-ignore: decorator
@lazy
let spareQueue: Task[] = [];
let passDepth: i32 = 0;
// @ts-ignore: decorator
@lazy
const services: Service[] = [];
let nextTaskId: u32 = 1;
let holds: i32 = 0;
let exitRequested = false;
let exitStatus: i32 = 0;
let pollSoonFlag = false;
// @ts-ignore: decorator
@lazy
let current: Task | null = null;
let currentStartTsc: u64 = 0;

// accounting
let idleNs: u64 = 0;
let kernelNs: u64 = 0;      // interrupts, services and timers
let passes: u64 = 0;
let halts: u64 = 0;
let hogThresholdNs: u64 = 100_000_000;
let hogWarnings: u64 = 0;
/** How long a task may run before shouldYield() says so. */
let quantumNs: u64 = 2_000_000;

class TimerIrq extends IrqHandler {
  handleIrq(vector: u32): void {}   // deadlines are checked every pass
}

/** Claims the timer vector and programs the deadline timer. */
export function initScheduler(): bool {
  started = true;
  loopEntry = runLoop;
  claimVector(TIMER_VECTOR, new TimerIrq());
  return initDeadlineTimer(TIMER_VECTOR);
}

let started = false;
/** Set when the scheduler starts; bootKernel calls the loop only through
 *  this, so an app that never schedules anything links no loop, clock or
 *  interrupt code at all (pay for what you use, as Unikraft's library
 *  selection does, here by reachability). */
let loopEntry: (() => i32) | null = null;

/** Starts interrupts, the clock and the deadline timer on first use: the
 *  first task, timer, service or hold. */
export function ensureStarted(): void {
  if (started) return;
  ensureInterrupts();
  ensureClock();
  initScheduler();
  if (!bootInfo().cmdline.has("quiet")) {
    println("sched: event loop started, timer " + deadlineTimerMode() + ", interrupts from " + interruptSource());
  }
}

/** Runs the loop if anything was ever scheduled; the exit status otherwise. */
export function runPendingWork(): i32 {
  const run = loopEntry;
  return run === null ? exitStatus : run();
}

// --- tasks -------------------------------------------------------------------

/** Adds a task; it is polled on the next pass. */
export function spawn(task: Task): Task {
  ensureStarted();
  if (task.spawned && task.state != TaskState.Done) return task;
  task.id = nextTaskId++;
  task.spawned = true;
  task.state = TaskState.Waiting;
  tasks.push(task);
  wake(task);
  return task;
}

/** Makes a waiting or sleeping task ready. Safe from interrupt handlers,
 *  timers and other tasks (all run on the loop). */
export function wake(task: Task): void {
  switch (task.state) {
    case TaskState.Waiting:
    case TaskState.Sleeping: {
      task.cancelSleep();
      task.state = TaskState.Ready;
      readyQueue.push(task);
      break;
    }
    case TaskState.Running: task.wokenWhileRunning = true; break;
    default: break;   // already ready, or done
  }
}

/** sleep(task, ns): the task sleeps ns from now. */
export function sleep(task: Task, ns: u64): void {
  task.sleepFor(ns);
}

function removeTask(task: Task): void {
  const i = tasks.indexOf(task);
  if (i >= 0) tasks.splice(i, 1);
  task.spawned = false;
}

function liveTasks(): i32 {
  let n = 0;
  for (let i = 0; i < tasks.length; i++) if (!unchecked(tasks[i]).daemon) n++;
  return n;
}

/** True when the running task has used its quantum: return from poll after
 *  calling again(), so interrupts, timers and other tasks get their turn. */
export function shouldYield(): bool {
  return current !== null && ticksToNs(rdtsc() - currentStartTsc) >= quantumNs;
}

export function currentTask(): Task | null { return current; }

// --- timers ------------------------------------------------------------------

/** Calls h.fire once, ns from now. */
export function after(ns: u64, h: TimerHandler): Timer {
  ensureStarted();
  const t = new Timer(h);
  timers.insert(t, nowNs() + ns);
  return t;
}

/** Calls h.fire every ns (first after ns). Missed periods are skipped, not
 *  replayed in a burst. */
export function every(ns: u64, h: TimerHandler): Timer {
  ensureStarted();
  const t = new Timer(h);
  t.period = ns > 0 ? ns : 1;
  timers.insert(t, nowNs() + t.period);
  return t;
}

/** Calls h.fire at monotonic time deadlineNs. */
export function at(deadlineNs: u64, h: TimerHandler): Timer {
  ensureStarted();
  const t = new Timer(h);
  timers.insert(t, deadlineNs);
  return t;
}

/** Re-arms an existing timer ns from now (e.g. a retransmission timer). */
export function rearm(t: Timer, ns: u64): void {
  timers.insert(t, nowNs() + ns);
}

export function cancel(t: Timer): bool {
  return timers.remove(t);
}

/** A daemon timer does not keep the loop alive (housekeeping, caches). */
export function setDaemon(t: Timer, daemon: bool): void {
  timers.setDaemon(t, daemon);
}

// --- services, holds, exit -----------------------------------------------------

export function addService(s: Service): void {
  ensureStarted();
  services.push(s);
}

export function removeService(s: Service): void {
  const i = services.indexOf(s);
  if (i >= 0) services.splice(i, 1);
}

/** Keeps the loop alive (a listening server holds) until release(). */
export function hold(): void { ensureStarted(); holds++; }
export function release(): void { if (holds > 0) holds--; }

/** Ends runLoop after the current pass; the guest exits with status. */
export function requestExit(status: i32): void {
  exitRequested = true;
  exitStatus = status;
}

export function exitRequestedStatus(): i32 { return exitStatus; }
export function isExitRequested(): bool { return exitRequested; }

/** The next pass must not halt (a service has more work without an interrupt). */
export function pollSoon(): void { pollSoonFlag = true; }

/** True while something keeps the loop going: a task, a timer or a hold. */
export function hasWork(): bool {
  return !exitRequested && (liveTasks() > 0 || timers.liveCount > 0 || holds > 0);
}

// --- the loop ----------------------------------------------------------------

function runTask(task: Task): void {
  if (task.state != TaskState.Ready) return;
  task.state = TaskState.Running;
  task.wokenWhileRunning = false;
  const outer = current;
  const outerStart = currentStartTsc;
  current = task;
  const t0 = rdtsc();
  currentStartTsc = t0;
  const depth = passDepth, servicing = inServices;
  const fault = runGuarded(new TaskPoll(task, nowNs()));
  const ran = ticksToNs(rdtsc() - t0);
  current = outer;
  currentStartTsc = outerStart;
  if (fault != FAULT_NONE) {
    // A fault in a nested pass's own code (sleepBlocking inside the poll)
    // skipped its bookkeeping: put the loop's back.
    passDepth = depth;
    inServices = servicing;
    // What the task was doing is lost; it is ended, the others run on.
    task.faults++;
    task.cancelSleep();
    task.state = TaskState.Done;
    reportFault(FaultSite.Task, fault, task.name, "task ended");
  }
  task.cpuNs += ran;
  task.runs++;
  if (ran > task.maxRunNs) task.maxRunNs = ran;
  if (ran > hogThresholdNs) {
    task.overruns++;
    hogWarnings++;
    // Warn on the first overrun and then every 100th, not on every pass.
    if (task.overruns == 1 || task.overruns % 100 == 0) {
      println("sched: task " + task.name + " held the CPU for " + (ran / 1_000_000).toString() +
        " ms (threshold " + (hogThresholdNs / 1_000_000).toString() + " ms); use shouldYield()/again()");
    }
  }
  if (<TaskState>task.state == TaskState.Done) { removeTask(task); return; }
  if (task.state == TaskState.Running) {
    task.state = TaskState.Waiting;
    if (task.wokenWhileRunning) wake(task);
  } else if (<TaskState>task.state == TaskState.Sleeping && task.wokenWhileRunning) {
    wake(task);
  }
}

let inServices = false;

/** One pass of the loop. With block, it halts at the end until an interrupt
 *  or the earlier of the nearest timer and untilNs (0: no extra deadline). */
export function runOnce(block: bool, untilNs: u64 = 0): void {
  passes++;
  let t0 = rdtsc();
  dispatchPending();
  if (!inServices) {
    inServices = true;
    const now = nowNs();
    for (let i = 0; i < services.length; i++) unchecked(services[i]).service(now);
    inServices = false;
  }
  kernelNs += ticksToNs(rdtsc() - t0);

  // Tasks ready now; those made ready meanwhile wait for the next pass. A
  // nested pass (sleepBlocking inside a poll) must not reuse the outer batch.
  const batch = readyQueue;
  readyQueue = passDepth == 0 ? spareQueue : [];
  passDepth++;
  for (let i = 0; i < batch.length; i++) runTask(unchecked(batch[i]));
  passDepth--;
  if (passDepth == 0) {
    batch.length = 0;
    spareQueue = batch;
  }

  t0 = rdtsc();
  const now = nowNs();
  let t = timers.popDue(now);
  while (t !== null) {
    if (t.period > 0) {
      let next = t.deadline + t.period;
      if (next <= now) next = now + t.period;
      timers.insert(t, next);
    }
    t.fired++;
    const depth = passDepth;
    const fault = runGuarded(new TimerFire(t.handler, now));
    if (fault != FAULT_NONE) {
      passDepth = depth;
      // A periodic timer that faulted would fault again: stop it.
      if (t.armed) timers.remove(t);
      reportFault(FaultSite.Timer, fault, "handler", "timer cancelled");
    }
    t = timers.popDue(now);
  }
  kernelNs += ticksToNs(rdtsc() - t0);

  if (block && readyQueue.length == 0 && !pollSoonFlag && !exitRequested) idle(untilNs);
  pollSoonFlag = false;
}

function idle(untilNs: u64): void {
  let deadline = untilNs;
  const top = timers.peek();
  if (top !== null && (deadline == 0 || top.deadline < deadline)) deadline = top.deadline;
  if (deadline == 0 && !hasWork()) return;          // runLoop is about to end
  const t0 = rdtsc();
  if (deadline != 0 && nowNs() >= deadline) return;
  armDeadline(deadline);
  halts++;
  irq_wait();   // sti; hlt; cli — returns after any interrupt
  idleNs += ticksToNs(rdtsc() - t0);
}

/** Runs the loop until nothing is left (no tasks, timers or holds) or
 *  requestExit(); returns the exit status. */
export function runLoop(): i32 {
  while (hasWork()) runOnce(true);
  return exitStatus;
}

/** Blocks the caller for ns while the loop keeps running (other tasks,
 *  interrupts, timers). For straight-line code such as an app's main(); a
 *  task should use sleepFor() and return from poll instead. */
export function sleepBlocking(ns: u64): void {
  ensureStarted();
  const deadline = nowNs() + ns;
  while (!exitRequested && nowNs() < deadline) runOnce(true, deadline);
}

/** One pass without halting: a yield point for straight-line code. */
export function yieldNow(): void {
  runOnce(false);
}

// --- accounting ----------------------------------------------------------------

export class TaskInfo {
  id: u32 = 0;
  name: string = "";
  state: string = "";
  cpuNs: u64 = 0;
  runs: u64 = 0;
  maxRunNs: u64 = 0;
  overruns: u64 = 0;
}

export class SchedStats {
  uptimeNs: u64 = 0;
  idleNs: u64 = 0;
  kernelNs: u64 = 0;
  passes: u64 = 0;
  halts: u64 = 0;
  tasks: i32 = 0;
  timers: i32 = 0;
  holds: i32 = 0;
  hogWarnings: u64 = 0;
}

/** Every live task with its CPU time (for /os/threads). */
export function taskSnapshot(): TaskInfo[] {
  const out = new Array<TaskInfo>();
  for (let i = 0; i < tasks.length; i++) {
    const t = unchecked(tasks[i]);
    const s = new TaskInfo();
    s.id = t.id; s.name = t.name; s.state = taskStateName(t.state);
    s.cpuNs = t.cpuNs; s.runs = t.runs; s.maxRunNs = t.maxRunNs; s.overruns = t.overruns;
    out.push(s);
  }
  return out;
}

export function schedStats(): SchedStats {
  const s = new SchedStats();
  s.uptimeNs = nowNs();
  s.idleNs = idleNs;
  s.kernelNs = kernelNs;
  s.passes = passes;
  s.halts = halts;
  s.tasks = tasks.length;
  s.timers = timers.size;
  s.holds = holds;
  s.hogWarnings = hogWarnings;
  return s;
}

export function setHogThresholdNs(ns: u64): void { hogThresholdNs = ns; }
export function setQuantumNs(ns: u64): void { quantumNs = ns; }
