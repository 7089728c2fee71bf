// kernel/api/netmetrics.ts — the network stack's own counters in /metrics:
// every counter of kernel/lib/net/counters.ts (packets, drops by reason, TCP
// events such as SYN cookies and keepalive timeouts) as one family labelled
// by event, and the TCP connections the stack holds now.
import { NetStack, COUNTER_COUNT, counterName } from "../lib/net";
import { MetricsWriter } from "./metrics";
import { MetricsSource } from "./state";

export class StackMetrics extends MetricsSource {
  constructor(public stack: NetStack) { super(); }

  write(w: MetricsWriter): void {
    const c = this.stack.counters;
    w.family("skiff_net_stack_events_total", "counter",
      "The network stack's counters (kernel/lib/net/counters.ts): packets, drops by reason, TCP events.");
    for (let i = 0; i < COUNTER_COUNT; i++) w.sampleU64("skiff_net_stack_events_total", ["event", counterName(i)], c.get(i));
    const tcp = this.stack.tcp;
    w.family("skiff_net_tcp_connections", "gauge", "TCP connections the stack holds: open (any state but TIME-WAIT) and time_wait entries.");
    w.sample("skiff_net_tcp_connections", ["state", "open"], <f64>tcp.connectionCount());
    w.sample("skiff_net_tcp_connections", ["state", "time_wait"], <f64>tcp.timeWaits.size);
  }
}
