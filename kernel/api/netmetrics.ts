// kernel/api/netmetrics.ts — the network stack's own counters in /metrics:
// every counter of kernel/lib/net/counters.ts (packets, drops by reason, TCP
// events such as SYN cookies and keepalive timeouts) as one family labelled
// by event, the TCP connections the stack holds now, and its buffer memory.
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
    const mem = this.stack.mem;
    w.family("skiff_net_buffer_bytes", "gauge",
      "The stack's buffer memory (socket rings, reassembly, ARP queues; owner net): held now, the most ever held, its bound (buffer auto-tuning grows rings only below half of it), freed ring storage kept for the next rings (spare, at most 8 blocks of 32 KiB, outside used), and freed ring storage a queued zero-copy packet still reads (deferred, inside used until the device is done).");
    w.sample("skiff_net_buffer_bytes", ["kind", "used"], <f64>mem.used);
    w.sample("skiff_net_buffer_bytes", ["kind", "peak"], <f64>mem.peak);
    w.sample("skiff_net_buffer_bytes", ["kind", "limit"], <f64>mem.limit);
    w.sample("skiff_net_buffer_bytes", ["kind", "spare"], <f64>mem.spareBytes);
    w.sample("skiff_net_buffer_bytes", ["kind", "deferred"], <f64>mem.pins.deferredBytes);
  }
}
