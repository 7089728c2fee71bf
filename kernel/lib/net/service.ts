// kernel/lib/net/service.ts — the stack in the kernel's event loop (kernel/core/sched):
// a Service polls it every pass (a receive interrupt ends the loop's halt, so
// frames are seen at once) and a daemon timer wakes the loop at the stack's
// next deadline. Also the kernel's entropy and the boot command line. This
// file is the only part of kernel/lib/net that knows the scheduler; the stack
// itself stays a pure state machine (stack.ts). Which stack is the default,
// and when it starts, is the composition layer's business (kernel/system).
import { Service, TimerHandler, Timer, addService, at, rearm, setDaemon, nowNs, pollSoon } from "../../core/sched";
import { randomBytes } from "../../core/random";
import { Cmdline } from "../../platform/bootinfo";
import { println } from "../../core/console";
import { NetDevice } from "./device";
import { NetStack } from "./stack";
import { EntropySource } from "./entropy";
import { parseNetConfig } from "./config";
import { NetLog } from "./socket";
import { collectHeap, noteCollection, takeCollectionWanted } from "../../core/mm";

class KernelEntropy extends EntropySource {
  fill(ptr: usize, len: i32): void { randomBytes(ptr, len); }
}

class ConsoleLog extends NetLog {
  log(line: string): void { println("net: " + line); }
}

/** Firing only ends the loop's halt; the next pass's service() polls. */
class Wakeup extends TimerHandler {
  fire(nowNs: u64): void {}
}

/** At most one collection per this interval while connections keep ending. */
const COLLECT_INTERVAL_NS: u64 = 100_000_000;

export class NetService extends Service {
  private timer: Timer | null = null;
  private deadline: u64 = 0;
  private wakeup: Wakeup = new Wakeup();
  private endedSeen: u64 = 0;
  private lastCollect: u64 = 0;
  private collectPending: bool = false;
  constructor(public stack: NetStack) { super(); }

  service(now: u64): void {
    const next = this.stack.poll(<i64>now);
    // What a connection allocated on the AS heap (an HTTP exchange's
    // buffers, handler objects) is garbage once it ends. The incremental
    // GC starts a cycle only when the heap has doubled since the last, and
    // TLSF grows linear memory for good when no free block fits, so a run
    // of short connections would grow the heap by their garbage. A full
    // collection after connections end lets the next ones reuse it; one
    // put off by the interval runs at its end (a timer), not whenever the
    // loop next wakes.
    const ended = this.stack.tcp.ended;
    if (ended != this.endedSeen) { this.endedSeen = ended; this.collectPending = true; }
    if (takeCollectionWanted()) this.collectPending = true;   // an HTTP exchange ended (TCP or host channel)
    let collectAt: u64 = 0;
    if (this.collectPending) {
      if (now - this.lastCollect >= COLLECT_INTERVAL_NS) {
        this.collectPending = false;
        const t0 = nowNs();
        collectHeap();
        this.lastCollect = nowNs();
        noteCollection(this.lastCollect - t0);
      } else {
        collectAt = this.lastCollect + COLLECT_INTERVAL_NS;   // not left until something else wakes the loop
      }
    }
    if (this.stack.iface.rxBacklog) pollSoon();     // frames left in the ring: come round again
    let dl: u64 = next < 0 ? 0 : <u64>next;
    if (collectAt != 0 && collectAt < dl) dl = collectAt;
    if (next == i64.MAX_VALUE && collectAt == 0) return;   // a frame will wake us
    let t = this.timer;
    if (t != null && t.armed && this.deadline == dl) return;
    this.deadline = dl;
    if (t == null) { t = at(dl, this.wakeup); this.timer = t; }
    else rearm(t, dl > now ? dl - now : 0);
    setDaemon(t, true);                           // the network alone does not keep the guest up
  }
}

/** Brings up TCP/IP on dev from the command line (ip=ADDR/PREFIX gateway=ADDR
 *  dns=ADDR for a static address, else DHCP; net.debug logs TCP state
 *  changes; tcp.no_autotune keeps socket buffers at their first size, to
 *  compare) and polls it from the event loop. */
export function startNetwork(dev: NetDevice, cmdline: Cmdline, quiet: bool): NetStack {
  const cfg = parseNetConfig(cmdline.get("ip"), cmdline.get("gateway"), cmdline.get("dns"));
  for (let i = 0; i < cfg.problems.length; i++) println("net: " + cfg.problems[i]);
  const s = new NetStack(dev, new KernelEntropy(), cfg);
  if (!quiet) s.logger = new ConsoleLog();          // DHCP leases
  if (cmdline.has("net.debug")) { s.logger = new ConsoleLog(); s.tcp.debug = true; }
  if (cmdline.has("tcp.no_autotune")) s.tcp.autotune = false;
  s.start(<i64>nowNs());
  addService(new NetService(s));
  if (!quiet) println("net: " + s.describe());
  return s;
}
