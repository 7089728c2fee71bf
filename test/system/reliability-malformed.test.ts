// test/system/reliability-malformed.test.ts — issue #16: REL_MALFORMED (default
// 500) hostile requests, one connection each, 8 at a time, at apps/httpd and at
// apps/kv (64 MiB q35 guests, TCG, user networking): garbage, over-long
// request and header lines, endless lines, bad chunked framing (bad, huge and
// negative sizes, missing CRLF, cut short), Content-Length and
// Transfer-Encoding together, bad Content-Length, invalid methods and
// versions, NUL bytes, bare CR, obs-fold, half-closed requests
// (bench/relclient.mjs lists them). The guest must keep answering (a
// legitimate GET after every 25, and after the run), log no fault, and within
// 90 s the memory the requests used must be back: `free_bytes` within 2% of
// where it started, with the network's pages and the heap's live bytes.
// What keeps the heap from growing (kernel/lib/http): an over-long line is
// refused at its limit without being copied, input and partial lines beyond
// a few hundred bytes are pool pages returned as soon as they are parsed,
// and a full collection runs after every HTTP exchange (at most one per
// 100 ms; test/unit/http-heap.test.ts measures the heap per request); and
// after a refusal the server reads and drops what the client still sends, so
// the client's FIN gets in and the socket's buffers go back at once rather
// than at the 60 s FIN-WAIT-2 timeout (docs/BENCHMARKS.md, Reliability).
import { afterAll, describe, expect, it } from "vitest";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopAll } from "../../harness/index.js";
import { HTTPD_READY, KV_READY, siteDisk, sleep, startGuest, type GuestSpec } from "../../bench/lib/hostile.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-relmal-"));
afterAll(async () => { await stopAll(); rmSync(dir, { recursive: true, force: true }); });
const COUNT = Number(process.env.REL_MALFORMED ?? 500);

async function hostile(spec: GuestSpec, probePath: string, putPath?: string): Promise<void> {
  const t = await startGuest(spec);
  try {
    const opts = { mode: "malformed", port: t.port(8080), probePath, putPath, width: 8, limitMs: 8000 };
    await t.client({ ...opts, count: 50 });          // what the first requests set up for good is not churn
    await sleep(3000);
    const before = await t.freeBytes();
    const m0 = JSON.parse((await t.g.api("GET", "/os/memory")).body);
    const r = await t.client({ ...opts, count: COUNT });
    console.log(`${spec.app}: ${JSON.stringify(r.kinds)}`);
    expect(r.legit).toBeGreaterThan(0);
    expect(r.failures, "legitimate requests not answered").toEqual([]);
    // Connections the hostile requests left (closing, TIME-WAIT, timeouts)
    // end within the request timeouts: poll until their memory is back, or 90 s.
    const usable = (m: { free: number; heap_size: number; heap_used: number }) => m.free + m.heap_size - m.heap_used;
    const t0 = Date.now();
    let m1 = m0, usableDrift = 1, waited = 0;
    while (Date.now() - t0 < 90_000) {
      await sleep(2000);
      m1 = JSON.parse((await t.g.api("GET", "/os/memory")).body);
      usableDrift = (usable(m0) - usable(m1)) / usable(m0);
      waited = Date.now() - t0;
      if (m1.by_subsystem.net <= m0.by_subsystem.net + before * 0.02 && Math.abs(usableDrift) <= 0.02 &&
          Math.abs((before - m1.free) / before) <= 0.02) break;
    }
    const after = m1.free, drift = (before - after) / before;
    console.log(`${spec.app}: ${waited} ms after ${COUNT} malformed requests: free ${before} -> ${after} bytes (${(drift * 100).toFixed(2)}%); ` +
      `heap ${m0.heap_size} -> ${m1.heap_size} bytes (used ${m0.heap_used} -> ${m1.heap_used}); net ${m0.by_subsystem.net} -> ${m1.by_subsystem.net}; ` +
      `free + unused heap ${(usableDrift * 100).toFixed(2)}% lower`);
    const last = await t.client({ mode: "flood", order: "server", count: 4, width: 1, web: t.port(8080), api: t.port(8000), probePath, probeMs: 100 });
    expect(last.outcomes[probePath.startsWith("/kv/") ? "status 404" : "ok"], JSON.stringify(last)).toBe(4);
    expect(t.g.output).not.toMatch(/wasm trap|kernel panic|^fault: |out of memory/m);
    expect(m1.by_subsystem.net).toBeLessThanOrEqual(m0.by_subsystem.net + before * 0.02);
    expect(Math.abs(usableDrift)).toBeLessThanOrEqual(0.02);
    expect(Math.abs(drift), "free_bytes not back within 2%").toBeLessThanOrEqual(0.02);
  } finally {
    await t.close();
  }
}

describe("malformed requests: the guest keeps answering, no fault, memory comes back (q35, TCG, 64 MiB)", () => {
  it(`httpd: ${COUNT} malformed requests`, () =>
    hostile({ app: "apps/httpd", transport: "user", ports: [8080, 8000], ready: HTTPD_READY, disks: [{ file: siteDisk(dir), readOnly: true }] }, "/index.html"), 600_000);
  it(`kv: ${COUNT} malformed requests`, () => {
    const disk = join(dir, "kv.img");
    const fd = openSync(disk, "w");
    ftruncateSync(fd, 16 << 20);
    closeSync(fd);
    return hostile({ app: "apps/kv", transport: "user", ports: [8080, 8000], ready: KV_READY, disks: [{ file: disk }] }, "/kv/none", "/kv/m");
  }, 600_000);
});
