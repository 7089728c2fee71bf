// test/system/reliability-floods.test.ts — issue #16's connection floods, short
// variant (the 5,000-connection one is `npm run bench -- --only reliability`):
// apps/httpd in a 64 MiB q35 guest under TCG, over QEMU user networking and
// over a tap device in a network namespace this test makes; REL_FLOOD
// connections (default 500) closed by the client first, then as many closed
// by the server first, as fast as the client opens them. Throughout, the app
// and the management API are probed every 200 ms on fresh connections: every
// probe must be answered (the latencies are printed; BENCHMARKS.md records
// them — no timing is asserted here), and 10 s after the floods free memory
// must be within 2% of where it started.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopAll } from "../../harness/index.js";
import { baseline, canTap, HTTPD_READY, recovered, siteDisk, startGuest, type Transport } from "../../bench/lib/hostile.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-relfl-"));
afterAll(async () => { await stopAll(); rmSync(dir, { recursive: true, force: true }); });
const COUNT = Number(process.env.REL_FLOOD ?? 500);

async function floods(transport: Transport): Promise<void> {
  const t = await startGuest({ app: "apps/httpd", transport, ports: [8080, 8000], ready: HTTPD_READY, disks: [{ file: siteDisk(dir), readOnly: true }] });
  try {
    const before = await baseline(t);
    for (const order of ["client", "server"]) {
      const r = await t.client({ mode: "flood", order, count: COUNT, width: 32, web: t.port(8080), api: t.port(8000), probeMs: 200 });
      console.log(`${transport}, ${order} closes: ${JSON.stringify(r.outcomes)} in ${r.ms} ms; app probes ${r.app.count} max ${r.app.maxMs} ms p50 ${r.app.p50Ms}; ` +
        `api probes ${r.api.count} max ${r.api.maxMs} ms p50 ${r.api.p50Ms}`);
      expect(r.app.count).toBeGreaterThan(0);
      expect(r.api.count).toBeGreaterThan(0);
      expect(r.app.failures, `app probes failed (${transport}, ${order} closes)`).toEqual([]);
      expect(r.api.failures, `API probes failed (${transport}, ${order} closes)`).toEqual([]);
      // The server answers every one it was asked (the client's own FIN-at-once
      // connections have nothing to answer).
      if (order === "server") expect(r.outcomes.ok).toBe(COUNT);
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
