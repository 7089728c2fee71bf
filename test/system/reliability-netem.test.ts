// test/system/reliability-netem.test.ts — issue #16: a lossy, reordering,
// duplicating link. apps/echo (q35, TCG) reached from a network namespace this
// test makes, through bench/lossylink.py: what the namespace sends to the
// guest is treated as `tc qdisc ... netem loss 5% reorder 10% duplicate 2%
// delay 5ms` on the namespace's end of a tap would (done in user space: hosts
// without sch_netem, like this one's kernel, have no netem); REL_NETEM_MIB
// (default 8) MiB of pseudo-random data through echo — up to the guest and
// back — must come back intact (SHA-256 of both sides). The time is printed
// (docs/BENCHMARKS.md records it); REL_PCAP=file keeps a capture of the
// namespace's side for diagnosis.
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { stopAll } from "../../harness/index.js";
import { canTap, ECHO_READY, sleep, startLossy } from "../../bench/lib/hostile.js";

afterAll(stopAll);
const MIB = Number(process.env.REL_NETEM_MIB ?? 8);

describe.skipIf(!canTap)("a lossy, reordering, duplicating link (echo, q35, TCG, loss 5% reorder 10% duplicate 2% delay 5ms)", () => {
  it(`${MIB} MiB through echo both ways arrive intact`, async () => {
    const t = await startLossy({ app: "apps/echo", transport: "tap", ports: [7], ready: ECHO_READY, memory: "64M" });
    let dump: ChildProcess | null = null;
    try {
      if (process.env.REL_PCAP) {
        dump = spawn("ip", ["netns", "exec", t.ns!, "tcpdump", "-i", t.tap!, "-w", process.env.REL_PCAP, "-s", "96", "tcp port 7"], { stdio: "ignore" });
        await sleep(1000);
      }
      const r = await t.client({ mode: "echo", port: 7, bytes: MIB << 20, limitMs: 600_000 }, 700_000);
      console.log(`lossy link: ${MIB} MiB echoed in ${r.ms} ms, intact ${r.intact}${r.error ? `, ${r.error} after ${r.received} bytes` : ""}`);
      expect(r.error).toBeUndefined();
      expect(r.received).toBe(MIB << 20);
      expect(r.got).toBe(r.sent);
      expect(t.g.output).not.toMatch(/wasm trap|kernel panic/);
    } finally {
      if (dump?.pid) { try { process.kill(dump.pid, "SIGINT"); } catch { /* gone */ } await sleep(500); }
      await t.close();
      console.log(`lossylink.py: ${t.helpers[0]?.out.join("").trim()}`);
    }
  }, 800_000);
});
