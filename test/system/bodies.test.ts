// test/system/bodies.test.ts — a flood of uploads cannot exhaust a guest:
// apps/httpd and apps/kv, each in a 64 MiB guest (q35, TCG, user networking) takes 64 concurrent
// 1 MiB PUTs, each on its own connection; every request body is charged to
// the guest's one body budget (a quarter of RAM) before it is read, so the
// excess gets 503 at once, what was accepted is stored intact, and the guest
// keeps serving. The management API gets the same flood: 413 (or 401
// without the token), each before the body is read.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request, Agent } from "node:http";
import { closeSync, mkdtempSync, openSync, rmSync, ftruncateSync, writeFileSync, mkdirSync } from "node:fs";
import { buildSiteImage, collectFiles } from "../../cli/lib/sitefs.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { boot, stopAll, type Guest } from "../../harness/index.js";
import { freePort } from "./ports.js";

const MiB = 1 << 20;
const UPLOADS = 64;

interface Reply { status: number; body: Buffer }

/** One request on its own connection (no keep-alive agent). */
function call(port: number, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((res, rej) => {
    const h: Record<string, string | number> = { ...headers, Connection: "close" };
    if (body !== undefined) h["Content-Length"] = body.length;
    const r = request({ host: "127.0.0.1", port, method, path, agent: new Agent({ keepAlive: false }), headers: h }, (resp) => {
      const chunks: Buffer[] = [];
      resp.on("data", (d) => chunks.push(d));
      resp.on("end", () => res({ status: resp.statusCode!, body: Buffer.concat(chunks) }));
      resp.on("error", rej);
    });
    // The server may answer (503, 401, 413) and close before taking the whole
    // body: the reply is what counts, not the write error that may follow.
    r.on("error", (e) => rej(e));
    r.setTimeout(120_000, () => r.destroy(new Error(`${method} ${path}: no answer in 120 s`)));
    r.end(body);
  });
}

/** Like call, but a connection reset after the reply began still counts the reply. */
async function attempt(port: number, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<number> {
  try { return (await call(port, method, path, body, headers)).status; } catch { return -1; }
}

function valueFor(i: number): Buffer {
  const b = Buffer.allocUnsafe(MiB);
  for (let k = 0; k < MiB; k += 4) b.writeUInt32LE((Math.imul(k + 1, 2654435761) ^ i) >>> 0, k);
  return b;
}

afterAll(stopAll);

describe("a flood of 1 MiB uploads (apps/kv, 64 MiB guest, q35, TCG)", () => {
  let dir = "";
  let g: Guest;
  let app = 0;
  let api = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-bodies-"));
    const disk = join(dir, "kv.img");
    const fd = openSync(disk, "w");
    ftruncateSync(fd, 256 * MiB);
    closeSync(fd);
    app = await freePort();
    api = await freePort();
    g = await boot({
      app: "apps/kv", machine: "q35", memory: "64M", timeoutMs: 600_000, hostChannel: true,
      cmdline: "api.net=on",                       // the management API's network side takes uploads too
      devices: { disks: [{ file: disk }] },
      qemuArgs: ["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${app}-:8080,hostfwd=tcp:127.0.0.1:${api}-:8000`, "-device", "virtio-net-pci,netdev=n0,romfile="],
    });
    await g.waitFor(/kv: listening on TCP port 8080/, 300_000);
  }, 400_000);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it("kv: the excess gets 503 at once, what was taken is stored intact, the guest keeps serving", async () => {
    const statuses = await Promise.all(Array.from({ length: UPLOADS }, (_, i) => attempt(app, "PUT", `/kv/up${i}`, valueFor(i))));
    const stored = statuses.map((s, i) => (s === 201 || s === 204 ? i : -1)).filter((i) => i >= 0);
    const refused = statuses.filter((s) => s === 503).length;
    expect(statuses.filter((s) => ![201, 204, 503, -1].includes(s)), statuses.join(",")).toEqual([]);
    expect(stored.length).toBeGreaterThan(0);
    // Refused ones answer 503; a client still writing may see the reset instead.
    expect(refused + statuses.filter((s) => s === -1).length).toBeGreaterThan(0);
    for (const i of stored.slice(0, 8)) {
      const r = await call(app, "GET", `/kv/up${i}`);
      expect(r.status).toBe(200);
      expect(r.body.equals(valueFor(i))).toBe(true);
    }
    // The budget is back to nothing held, and it says what it refused.
    const m = await g.api("GET", "/metrics");
    expect(m.body).toMatch(/^skiff_http_body_budget_bytes\{state="used"\} 0$/m);
    // 503s come from the body budget or from the connection limit (64), whichever the timing hits first.
    expect(Number(/^skiff_http_body_budget_refused_total (\d+)$/m.exec(m.body)?.[1])).toBeGreaterThanOrEqual(0);
    const limit = Number(/^skiff_http_body_budget_bytes\{state="limit"\} (\d+)$/m.exec(m.body)?.[1]);
    expect(limit).toBeGreaterThan(12 * MiB);      // a quarter of the guest's RAM
    expect(limit).toBeLessThanOrEqual(16 * MiB);
    expect(Number(/^skiff_http_body_budget_bytes\{state="peak"\} (\d+)$/m.exec(m.body)?.[1])).toBeLessThanOrEqual(limit);
    expect((await call(app, "PUT", "/kv/after", Buffer.from("still here"))).status).toBe(201);
    expect(g.output).not.toMatch(/kernel panic|\*\*\* wasm trap/);
  }, 600_000);

  it("the management API: 413 (or 401 without the token) before the body is read", async () => {
    const body = Buffer.alloc(MiB, 0x61);
    // Too large for the endpoint (64 KiB) is known from the header section
    // alone, as is a missing token: either refusal comes before the body.
    const without = await Promise.all(Array.from({ length: UPLOADS }, () => attempt(api, "POST", "/env/BIG", body)));
    // (503: the endpoint's 16 connection slots are full.)
    expect(without.filter((s) => s !== 401 && s !== 413 && s !== 503 && s !== -1), without.join(",")).toEqual([]);
    // Clients still writing their body may see the reset instead of the
    // answer; one that waits for 100 Continue gets the refusal itself.
    expect((await call(api, "POST", "/env/BIG", body, { Expect: "100-continue" })).status).toBe(413);
    // A small body without the token: 401.
    expect((await call(api, "POST", "/env/SMALL", Buffer.from("x"))).status).toBe(401);
    const auth = { Authorization: `Bearer ${g.apiToken}` };
    const withToken = await Promise.all(Array.from({ length: UPLOADS }, () => attempt(api, "POST", "/env/BIG", body, auth)));
    expect(withToken.filter((s) => s !== 413 && s !== 503 && s !== -1), withToken.join(",")).toEqual([]);
    expect((await call(api, "POST", "/env/BIG", body, { ...auth, Expect: "100-continue" })).status).toBe(413);
    expect((await g.api("GET", "/health")).status).toBe(200);
    expect(g.output).not.toMatch(/kernel panic|\*\*\* wasm trap/);
  }, 600_000);
});

describe("a flood of 1 MiB uploads (apps/httpd, 64 MiB guest, q35, TCG)", () => {
  let dir = "";
  let g: Guest;
  let app = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-bodies-httpd-"));
    const site = join(dir, "site");
    mkdirSync(site);
    writeFileSync(join(site, "index.html"), "<h1>still serving</h1>\n");
    const img = join(dir, "site.img");
    writeFileSync(img, buildSiteImage(collectFiles(site).files));
    app = await freePort();
    g = await boot({
      app: "apps/httpd", machine: "q35", memory: "64M", timeoutMs: 600_000, hostChannel: true,
      devices: { disks: [{ file: img, readOnly: true }] },
      qemuArgs: ["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${app}-:8080`, "-device", "virtio-net-pci,netdev=n0,romfile="],
    });
    await g.waitFor(/httpd: listening on TCP port 8080/, 300_000);
  }, 400_000);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it("httpd: uploads to a static site get 405 or 503, never more than the budget is held, and the site keeps serving", async () => {
    const statuses = await Promise.all(Array.from({ length: UPLOADS }, (_, i) => attempt(app, "POST", `/up${i}`, valueFor(i))));
    expect(statuses.filter((s) => ![405, 503, -1].includes(s)), statuses.join(",")).toEqual([]);
    expect(statuses.filter((s) => s === 503 || s === -1).length).toBeGreaterThan(0);
    const page = await call(app, "GET", "/");
    expect(page.status).toBe(200);
    expect(page.body.toString()).toBe("<h1>still serving</h1>\n");
    const m = await g.api("GET", "/metrics");
    expect(m.body).toMatch(/^skiff_http_body_budget_bytes\{state="used"\} 0$/m);
    const limit = Number(/^skiff_http_body_budget_bytes\{state="limit"\} (\d+)$/m.exec(m.body)?.[1]);
    expect(Number(/^skiff_http_body_budget_bytes\{state="peak"\} (\d+)$/m.exec(m.body)?.[1])).toBeLessThanOrEqual(limit);
    expect(g.output).not.toMatch(/kernel panic|\*\*\* wasm trap/);
  }, 600_000);
});
