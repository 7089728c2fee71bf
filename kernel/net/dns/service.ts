// kernel/net/dns/service.ts — the resolver in the kernel's event loop: one
// sched timer per resolver, armed at its next deadline (a retransmission, a
// timeout, or "now" when a result is ready to deliver). The timer is not a
// daemon: a lookup in flight keeps the guest running, as a connect does.
import { TimerHandler, Timer, at, rearm, nowNs } from "../../sched";
import { NetStack } from "../stack";
import { DnsResolver, DnsWakeup, DnsOptions } from "./resolver";

class ResolverTimer extends TimerHandler {
  timer: Timer | null = null;
  constructor(public wakeup: LoopWakeup) { super(); }
  fire(now: u64): void {
    const w = this.wakeup;
    w.armedAt = i64.MAX_VALUE;
    const next = w.resolver!.poll(<i64>now);
    if (next != i64.MAX_VALUE) w.wakeAt(next);
  }
}

class LoopWakeup extends DnsWakeup {
  resolver: DnsResolver | null = null;
  armedAt: i64 = i64.MAX_VALUE;
  handler: ResolverTimer | null = null;

  wakeAt(deadlineNs: i64): void {
    if (deadlineNs >= this.armedAt) return;        // already due sooner
    this.armedAt = deadlineNs;
    const dl: u64 = deadlineNs < 0 ? 0 : <u64>deadlineNs;
    let h = this.handler;
    if (h == null) { h = new ResolverTimer(this); this.handler = h; }
    let t = h.timer;
    if (t == null) { h.timer = at(dl, h); return; }
    const now = nowNs();
    rearm(t, dl > now ? dl - now : 0);
  }
}

/** A resolver on stack driven by the event loop. servers empty: the
 *  interface's (DHCP option 6, or dns= on the command line). */
export function newLoopResolver(stack: NetStack, servers: Array<u32> = [], options: DnsOptions | null = null): DnsResolver {
  const r = new DnsResolver(stack.iface, stack.udp, stack.entropy, options);
  r.servers = servers;
  const w = new LoopWakeup();
  w.resolver = r;
  r.wakeup = w;
  return r;
}
