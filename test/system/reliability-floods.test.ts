// test/system/reliability-floods.test.ts — issue #16's connection floods, short
// variant (the 5,000-connection one is `npm run bench -- --only reliability`):
// apps/httpd in a 64 MiB q35 guest under TCG, over QEMU user networking and
// over a tap device in a network namespace this test makes; REL_FLOOD
// connections (default 500) closed by the client first, then as many closed
// by the server first, as fast as the client opens them. Throughout, the app
// and the management API are probed every 200 ms on fresh connections: every
// probe must be answered (the latencies are printed; BENCHMARKS.md records
// them — no timing is asserted here), and 10 s after the floods free memory
// must be within 2% of where it started. Over user networking a probe that
// QEMU's forwarded port lost (it listens with a backlog of 1; the guest never
// saw the connection) is sent again once and counted.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopAll } from "../../harness/index.js";
import { baseline, canTap, floodOpts, HTTPD_READY, listenOverflows, recovered, siteDisk, startGuest, type Transport } from "../../bench/lib/hostile.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-relfl-"));
afterAll(async () => { await stopAll(); rmSync(dir, { recursive: true, force: true }); });
const COUNT = Number(process.env.REL_FLOOD ?? 500);

async function floods(transport: Transport): Promise<void> {
  const t = await startGuest({ app: "apps/httpd", transport, ports: [8080, 8000], ready: HTTPD_READY, disks: [{ file: siteDisk(dir), readOnly: true }] });
  try {
    const before = await baseline(t);
    for (const order of ["client", "server"] as const) {
      const o0 = listenOverflows();
      const r = await t.client(floodOpts(t, order, COUNT));
      console.log(`${transport}, ${order} closes: ${JSON.stringify(r.outcomes)} in ${r.ms} ms; app probes ${r.app.count} max ${r.app.maxMs} ms p50 ${r.app.p50Ms} ` +
        `(${r.app.retried} sent again); api probes ${r.api.count} max ${r.api.maxMs} ms p50 ${r.api.p50Ms} (${r.api.retried} sent again); ` +
        `host listen overflows +${listenOverflows() - o0}`);
      expect(r.app.count).toBeGreaterThan(0);
      expect(r.api.count).toBeGreaterThan(0);
      expect(r.app.failures, `app probes failed (${transport}, ${order} closes)`).toEqual([]);
      expect(r.api.failures, `API probes failed (${transport}, ${order} closes)`).toEqual([]);
      if (order === "server") {
        // Over tap every GET is answered. Over user networking a connect can
        // be lost in QEMU's backlog-1 listener before the guest sees it
        // (connected, nothing back: "timeout"); the tap case covers the guest.
        if (transport === "tap") expect(r.outcomes.ok, JSON.stringify(r.stalls)).toBe(COUNT);
        else expect((r.outcomes.ok ?? 0) + (r.outcomes.timeout ?? 0), JSON.stringify(r.outcomes)).toBe(COUNT);
      }
    }
    const { after, drift } = await recovered(t, before);
    console.log(`${transport}: free ${before} -> ${after} bytes (${(drift * 100).toFixed(2)}%)`);
    expect(t.g.output).not.toMatch(/wasm trap|kernel panic|out of memory/);
    expect(Math.abs(drift)).toBeLessThanOrEqual(0.02);
  } finally {
    await t.close();
  }
}

describe("connection floods: both endpoints keep answering, memory comes back (httpd, q35, TCG, 64 MiB)", () => {
  it(`user networking: ${COUNT} closed by the client, ${COUNT} by the server`, () => floods("user"), 900_000);
  it.skipIf(!canTap)(`tap in a network namespace: ${COUNT} closed by the client, ${COUNT} by the server`, () => floods("tap"), 900_000);
});
