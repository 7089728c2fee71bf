// test/system/answers.test.ts — the management API's answers are true of the
// real machine: apps/kv in a q35 guest under TCG with two processors (-smp 2),
// a virtio-blk disk (a sparse file here) and virtio-net with kv's port
// forwarded to loopback; the API is asked over the harness's host-only channel.
//  - /hardware/processor/count is the MADT's 2, not a constant;
//  - /os/threads lists tasks on CPU 0 and no counters the cooperative one-CPU
//    scheduler cannot have (test/unit/api.test.ts checks whole entries);
//  - the request-duration histogram's _sum grows with the requests it counts;
//  - skiff_block_{read,written}_bytes_total follow what kv reads and writes:
//    a 96 KiB value written shows up in the written bytes and in the disk file,
//    and reading it back (too large for kv's cache) in the read bytes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { boot, stopAll, type Guest } from "../../harness/index.js";
import { freePort } from "./ports.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-answers-"));
afterAll(async () => { await stopAll(); rmSync(dir, { recursive: true, force: true }); });

/** Samples of Prometheus text by name with labels, e.g. `x_total{device="vda"}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** The one sample of a family with a device label (the guest has one disk). */
function deviceSample(m: Map<string, number>, family: string): number {
  const hits = [...m].filter(([k]) => k.startsWith(family + "{device="));
  expect(hits.length, family).toBe(1);
  return hits[0][1];
}

/** A value that is the same for a key every time and unlike any other data. */
function valueOf(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  let x = 0x9e3779b9;
  for (let i = 0; i < bytes; i += 4) { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; b.writeUInt32LE(x, i); }
  return b;
}

describe("API answers against the real kernel (apps/kv, q35, -smp 2, TCG)", () => {
  let g: Guest;
  let port = 0;
  let disk = "";

  beforeAll(async () => {
    port = await freePort();
    disk = join(dir, "kv.img");
    const fd = openSync(disk, "w");
    ftruncateSync(fd, 16 << 20);
    closeSync(fd);
    g = await boot({
      app: "apps/kv", machine: "q35", timeoutMs: 400_000,
      devices: { disks: [{ file: disk }] },
      net: "user", forwards: [`${port}:8080`],
      qemuArgs: ["-smp", "2"],
    });
    await g.waitFor(/kv: listening on TCP port 8080/, 300_000);
  }, 320_000);

  const metrics = async () => {
    const r = await g.api("GET", "/metrics");
    expect(r.status).toBe(200);
    return samples(r.body);
  };

  it("/hardware/processor/count is the number of CPUs the machine has", async () => {
    const r = await g.api("GET", "/hardware/processor/count");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toBe(2);
  });

  it("/os/threads: tasks on CPU 0, and no fields that cannot be true", async () => {
    const r = await g.api("GET", "/os/threads");
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body) as { time_ms: number; list: Record<string, unknown>[] };
    expect(Number.isInteger(body.time_ms)).toBe(true);
    // kv runs on timers and network callbacks, not long-lived tasks: the list
    // may be empty; whatever it holds is on CPU 0 with real CPU time.
    for (const t of body.list) {
      expect(t.cpu).toBe(0);
      expect(t).not.toHaveProperty("migrations");
      expect(t).not.toHaveProperty("preemptions");
      expect(Number.isInteger(t.cpu_ns)).toBe(true);
    }
    // The served document says the same.
    const doc = JSON.parse((await g.api("GET", "/openapi.json")).body) as { paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: { properties: { list: { items: { properties: Record<string, unknown> } } } } }> }> } }> };
    const item = doc.paths["/os/threads"].get.responses["200"].content["application/json"].schema.properties.list.items.properties;
    expect(Object.keys(item)).toContain("cpu");
    expect(Object.keys(item)).not.toContain("migrations");
    expect(Object.keys(item)).not.toContain("preemptions");
  });

  it("the request-duration histogram's _sum is the real sum of durations", async () => {
    const route = 'route="/hardware/hypervisor"';
    const before = await metrics();
    const sum0 = before.get(`skiff_http_request_duration_seconds_sum{${route}}`) ?? 0;
    const count0 = before.get(`skiff_http_request_duration_seconds_count{${route}}`) ?? 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 5; i++) expect((await g.api("GET", "/hardware/hypervisor")).status).toBe(200);
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const after = await metrics();
    const sum1 = after.get(`skiff_http_request_duration_seconds_sum{${route}}`)!;
    const count1 = after.get(`skiff_http_request_duration_seconds_count{${route}}`)!;
    expect(count1 - count0).toBe(5);
    // Each request took some time in the guest, and no more than the host waited for all five.
    expect(sum1 - sum0).toBeGreaterThan(0);
    expect(sum1 - sum0).toBeLessThan(wallSeconds);
    // Every family's _sum agrees with its buckets: 0 < sum <= count * (largest finite bound it fell under).
    for (const [k, v] of after) {
      if (!k.startsWith("skiff_http_request_duration_seconds_sum")) continue;
      const labels = k.slice(k.indexOf("{"));
      const count = after.get(`skiff_http_request_duration_seconds_count${labels}`)!;
      if (count > 0) expect(v, k).toBeGreaterThan(0);
    }
  });

  it("block read and written bytes follow what the app reads and writes", async () => {
    const m0 = await metrics();
    const w0 = deviceSample(m0, "skiff_block_written_bytes_total");
    const r0 = deviceSample(m0, "skiff_block_read_bytes_total");
    // kv read its disk at start (the superblock, the log) and wrote its format.
    expect(r0).toBeGreaterThan(0);
    expect(w0).toBeGreaterThan(0);
    expect(r0 % 512).toBe(0);
    expect(w0 % 512).toBe(0);
    expect(deviceSample(m0, "skiff_block_reads_total")).toBeGreaterThan(0);

    const value = valueOf(96 * 1024);
    const put = await fetch(`http://127.0.0.1:${port}/kv/answers`, { method: "PUT", body: new Uint8Array(value) });
    expect(put.status).toBe(201);
    const m1 = await metrics();
    const w1 = deviceSample(m1, "skiff_block_written_bytes_total");
    expect(w1 - w0).toBeGreaterThanOrEqual(value.length);
    expect(w1 - w0).toBeLessThan(value.length + 64 * 1024);   // the record's header and padding, not a rewrite of the disk
    expect(w1 % 512).toBe(0);
    // The bytes are on the disk file, as the counter says.
    expect(readFileSync(disk).includes(value)).toBe(true);

    const r1 = deviceSample(m1, "skiff_block_read_bytes_total");
    const got = await fetch(`http://127.0.0.1:${port}/kv/answers`);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(value)).toBe(true);
    const m2 = await metrics();
    const r2 = deviceSample(m2, "skiff_block_read_bytes_total");
    expect(r2 - r1).toBeGreaterThanOrEqual(value.length);
    expect(deviceSample(m2, "skiff_block_written_bytes_total")).toBe(w1);   // a read writes nothing
    expect(deviceSample(m2, "skiff_block_errors_total")).toBe(0);
  });
});
