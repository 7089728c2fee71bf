// kernel/core/fault.ts — containing faults in app code. The kernel enters app code
// (an HTTP handler, a task's poll, a timer) through runGuarded, which goes
// through the loader's guarded_call: a Wasm trap (out-of-bounds access,
// unreachable, null dereference, call stack exhausted), an abort (a throw, an
// index out of range) or heap exhaustion inside ends only that call. The
// loader jumps back to the guarded_call, which returns the fault's code; we
// restore AssemblyScript's shadow-stack pointer (the frames that were live
// never popped theirs), count the fault and log one line. What is and is not
// recoverable: docs/ARCHITECTURE.md, "Faults".
//
// A fault outside any guarded call (the kernel itself, or the app's main)
// still ends the guest: status 70 (abort, out of memory) or 71 (trap).
import { guarded_call, fault_info, memory_reserve, memory_pressure } from "../platform";
import { println } from "./console";
import { nowNs } from "./time";
import { linearLimitBytes } from "./mm";

export const FAULT_NONE: u32 = 0;
export const FAULT_TRAP: u32 = 1;
export const FAULT_ABORT: u32 = 2;
/** The heap could not grow: answered 503, not 500 (the request may succeed later). */
export const FAULT_OOM: u32 = 3;
export const FAULT_KINDS: i32 = 4;
/** guarded_call's answer when it cannot guard: the caller runs the function itself. */
export const GUARD_RUN_HERE: u32 = 255;

/** Where a fault happened, for the counters. */
export enum FaultSite { Http = 0, Task = 1, Timer = 2 }
export const FAULT_SITES: i32 = 3;

/** What runGuarded runs: the one method is the guarded code. */
export abstract class Guarded {
  /** The guarded call this one is nested in (kept reachable while running). */
  outer: Guarded | null = null;
  abstract run(): void;
}

/** The table entry guarded_call calls back through (an (i32) => void function). */
function enterGuarded(g: u32): void {
  changetype<Guarded>(<usize>g).run();
}

/** The innermost running guarded call: a GC root for it and those around it. */
// @ts-ignore: decorator
@lazy
let running: Guarded | null = null;
/** The reserve in force now (0 inside kernel code's guarded calls), and
 *  whether the app's has been computed. */
let reserveNow: u64 = 0;
let appReserve: u64 = 0;
let appReserveKnown = false;

/** Heap growth inside guarded calls stops this far before the limit: room for
 *  the kernel to answer, log and keep the network stack going after an app
 *  has filled the heap. 1/16 of linear memory's limit, 1..8 MiB. */
const RESERVE_MIN: u64 = 1 << 20;
const RESERVE_MAX: u64 = 8 << 20;

export function guardedReserveBytes(): u64 {
  let r = linearLimitBytes() / 16;
  if (r < RESERVE_MIN) r = RESERVE_MIN;
  if (r > RESERVE_MAX) r = RESERVE_MAX;
  return r;
}

/** Called by the loader from memory.grow when linear memory is about to grow
 *  into the reserve (memory_pressure). The collector paces itself by the live
 *  heap — a cycle starts once it has doubled — so with an app holding most of
 *  memory, garbage would eat the kernel's reserve before any was collected.
 *  Safe at that point: the allocator has changed nothing yet, and it is where
 *  the collector's own incremental steps may run a whole cycle anyway. */
function collectForHost(): void {
  forcedCollections++;
  // @ts-ignore: the runtime builtin asc provides
  __collect();
}
let forcedCollections: u64 = 0;

class PressureCollect extends Guarded {
  run(): void { collectForHost(); }
}
/** Kept reachable: the loader holds only its address. */
// @ts-ignore: decorator
@lazy
let pressureHook: PressureCollect | null = null;

/** Full collections run after a call ran out of memory or before growing into the reserve. */
export function forcedCollectionCount(): u64 { return forcedCollections; }

function setReserve(bytes: u64): void {
  if (bytes != reserveNow) {
    reserveNow = bytes;
    memory_reserve(bytes);
  }
}

/** Runs g.run() so that a fault inside ends only it. Returns FAULT_NONE or
 *  the fault's code; after a fault g's work is half done and the caller
 *  decides what that means (a 500, a task ended). appCode: the heap may not
 *  grow into the kernel's reserve meanwhile (false for the kernel's own
 *  handlers, which the reserve is for). */
export function runGuarded(g: Guarded, appCode: bool = true): u32 {
  if (!appReserveKnown) {
    appReserveKnown = true;
    appReserve = guardedReserveBytes();
    // Collect before growing into the reserve: see collectForHost. The
    // loader calls back through enterGuarded, whose table entry the
    // optimizer keeps (a function only the loader calls is compiled to
    // `unreachable`), with an object whose run() collects.
    const p = new PressureCollect();
    pressureHook = p;
    memory_pressure(enterGuarded.index, <u32>changetype<usize>(p), appReserve);
  }
  const outerReserve = reserveNow;
  setReserve(appCode ? appReserve : 0);
  const sp = __stack_pointer;
  g.outer = running;
  running = g;
  const enter = enterGuarded;
  const arg = <u32>changetype<usize>(g);
  let code = guarded_call(enter.index, arg);
  if (code == GUARD_RUN_HERE) {
    // The host cannot guard this call (nested too deep; a host without the
    // table): run it unguarded. This call is also what tells the optimizer
    // that enterGuarded is called, and with what: the loader's call through
    // the table is invisible to it, and without one it compiles the
    // function to `unreachable`.
    enter(arg);
    code = FAULT_NONE;
  }
  running = g.outer;
  g.outer = null;
  setReserve(outerReserve);
  if (code != FAULT_NONE) {
    // The frames between here and the fault never popped their shadow-stack
    // slots: drop them all at once.
    __stack_pointer = sp;
  }
  if (code == FAULT_OOM) {
    // Whatever the failed call allocated is garbage now; collect it before
    // anyone else needs the space.
    collectForHost();
  }
  return code;
}

// --- counting and logging ----------------------------------------------------

// @ts-ignore: decorator
@lazy
const counts = new StaticArray<u64>(FAULT_SITES * FAULT_KINDS);

export function faultKindName(code: u32): string {
  switch (code) {
    case FAULT_TRAP: return "trap";
    case FAULT_ABORT: return "abort";
    case FAULT_OOM: return "oom";
    default: return "none";
  }
}

export function faultSiteName(site: i32): string {
  switch (site) {
    case FaultSite.Http: return "http";
    case FaultSite.Task: return "task";
    case FaultSite.Timer: return "timer";
    default: return "?";
  }
}

/** Faults counted so far at site of kind code. */
export function faultCount(site: i32, code: u32): u64 {
  if (site < 0 || site >= FAULT_SITES || code == 0 || code >= <u32>FAULT_KINDS) return 0;
  return unchecked(counts[site * FAULT_KINDS + <i32>code]);
}

export function faultTotal(): u64 {
  let t: u64 = 0;
  for (let i = 0; i < counts.length; i++) t += unchecked(counts[i]);
  return t;
}

/** The loader's description of the last fault ("wasm trap: out of bounds
 *  memory access in f123", "abort: Index out of range at ~lib/array.ts:..."). */
export function lastFaultText(): string {
  const buf = new ArrayBuffer(400);
  const n = fault_info(changetype<usize>(buf), <u32>buf.byteLength);
  return String.UTF8.decodeUnsafe(changetype<usize>(buf), <usize>n);
}

/** Counts a fault and logs it once: where (what the app was doing: "GET
 *  /items/{id}", "task worker"), what went wrong, and what became of it. */
export function reportFault(site: i32, code: u32, what: string, outcome: string): void {
  if (site >= 0 && site < FAULT_SITES && code > 0 && code < <u32>FAULT_KINDS) {
    unchecked(counts[site * FAULT_KINDS + <i32>code]++);
  }
  // Each distinct fault (where and what) is logged in full once; its repeats
  // within FAULT_LOG_INTERVAL_NS are only counted, and summed into one line
  // when it recurs after that: a client hammering a faulty route must not
  // flood the console or push the boot log out of dmesg. /metrics counts all.
  const key = faultSiteName(site) + " " + what + ": " + lastFaultText();
  const now = nowNs();
  let k = recentKeys.indexOf(key);
  if (k >= 0) {
    if (now - unchecked(recentAt[k]) < FAULT_LOG_INTERVAL_NS) { unchecked(recentHeld[k]++); return; }
    const held = unchecked(recentHeld[k]);
    if (held > 0) println("fault: " + key + ": " + held.toString() + " more times since it was last logged");
  } else {
    if (recentKeys.length >= FAULT_LOG_KEYS) {
      // Forget the least recently logged one, saying how often it recurred.
      let old = 0;
      for (let i = 1; i < recentAt.length; i++) if (unchecked(recentAt[i]) < unchecked(recentAt[old])) old = i;
      const held = unchecked(recentHeld[old]);
      if (held > 0) println("fault: " + unchecked(recentKeys[old]) + ": " + held.toString() + " more times since it was last logged");
      recentKeys.splice(old, 1); recentAt.splice(old, 1); recentHeld.splice(old, 1);
    }
    recentKeys.push(key); recentAt.push(now); recentHeld.push(0);
    k = recentKeys.length - 1;
  }
  unchecked(recentAt[k] = now);
  unchecked(recentHeld[k] = 0);
  println("fault: " + key + " (" + outcome + ")");
}

/** Distinct faults remembered for the log's rate limit, and its interval. */
const FAULT_LOG_KEYS: i32 = 16;
const FAULT_LOG_INTERVAL_NS: u64 = 10_000_000_000;
// @ts-ignore: decorator
@lazy
const recentKeys = new Array<string>();
// @ts-ignore: decorator
@lazy
const recentAt = new Array<u64>();
// @ts-ignore: decorator
@lazy
const recentHeld = new Array<u64>();
