// test/system/httpd.test.ts — apps/httpd in a real guest (q35, TCG): a folder
// packed by `skiff mkfs` on a read-only virtio-blk disk, and the same folder
// embedded with `skiff build --embed`; files come back byte-identical with
// their types, ETags give 304, ranges give 206/416; a /config change of
// httpd.cache-control applies at once.
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "node:net";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { boot, stopAll, type Guest } from "../../harness/index.js";
import { buildSiteImage, collectFiles } from "../../cli/lib/sitefs.js";
import { freePort } from "./ports.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-httpd-"));
afterAll(async () => { await stopAll(); rmSync(dir, { recursive: true, force: true }); });
const TOKEN = "httpd-test-token-0001";

const site = join(dir, "www");
mkdirSync(join(site, "css"), { recursive: true });
const big = Buffer.alloc(150_000);
for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
const FILES: Record<string, [Buffer, string]> = {
  "index.html": [Buffer.from("<!doctype html><p>skiff httpd</p>\n"), "text/html; charset=utf-8"],
  "css/site.css": [Buffer.from("p { margin: 0 }\n"), "text/css; charset=utf-8"],
  "big.bin": [big, "application/octet-stream"],
  "logo.svg": [Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>"), "image/svg+xml"],
};
for (const [p, [d]] of Object.entries(FILES)) writeFileSync(join(site, p), d);
const etag = (d: Buffer) => `"${createHash("sha256").update(d).digest("hex").slice(0, 32)}"`;

async function start(o: { disk?: string; embed?: string }): Promise<{ g: Guest; web: string; api: string }> {
  const [wp, ap] = [await freePort(), await freePort()];
  const g = await boot({
    app: "apps/httpd", machine: "q35", timeoutMs: 280_000, cmdline: `api.net=on api.token=${TOKEN}`,
    build: o.embed ? { embed: o.embed, outDir: join(dir, "build-embed") } : undefined,
    devices: o.disk ? { disks: [{ file: o.disk, readOnly: true }] } : undefined,
    qemuArgs: ["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${wp}-:8080,hostfwd=tcp:127.0.0.1:${ap}-:8000`, "-device", "virtio-net-pci,netdev=n0,romfile="],
  });
  await g.waitFor(/httpd: listening on TCP port 8080/, 120_000);
  await g.waitFor(/net: dhcp: 10\.0\.2\.15/, 60_000);
  return { g, web: `http://127.0.0.1:${wp}`, api: `http://127.0.0.1:${ap}` };
}

async function checkServing(web: string) {
  for (const [p, [d, type]] of Object.entries(FILES)) {
    const r = await fetch(`${web}/${p}`);
    expect(r.status, p).toBe(200);
    expect(Buffer.from(await r.arrayBuffer()).equals(d), p).toBe(true);
    expect(r.headers.get("content-type"), p).toBe(type);
    expect(r.headers.get("etag"), p).toBe(etag(d));
  }
  expect(await (await fetch(`${web}/`)).text()).toContain("skiff httpd");
  const nm = await fetch(`${web}/big.bin`, { headers: { "If-None-Match": etag(big) } });
  expect(nm.status).toBe(304);
  const part = await fetch(`${web}/big.bin`, { headers: { Range: "bytes=1000-1999" } });
  expect(part.status).toBe(206);
  expect(part.headers.get("content-range")).toBe(`bytes 1000-1999/${big.length}`);
  expect(Buffer.from(await part.arrayBuffer()).equals(big.subarray(1000, 2000))).toBe(true);
  const tail = await fetch(`${web}/big.bin`, { headers: { Range: "bytes=-10" } });
  expect(Buffer.from(await tail.arrayBuffer()).equals(big.subarray(big.length - 10))).toBe(true);
  const bad = await fetch(`${web}/big.bin`, { headers: { Range: `bytes=${big.length}-` } });
  expect(bad.status).toBe(416);
  expect(bad.headers.get("content-range")).toBe(`bytes */${big.length}`);
  expect((await fetch(`${web}/missing`)).status).toBe(404);
}

/** n GETs one after another on one kept-alive connection; how many 200s came back. */
function keptAlive(web: string, path: string, n: number): Promise<number> {
  const port = Number(new URL(web).port);
  return new Promise((res, rej) => {
    const c = connect(port, "127.0.0.1");
    let buf = Buffer.alloc(0), ok = 0, sentN = 0;
    const next = () => { sentN++; c.write(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`); };
    c.on("connect", next);
    c.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.subarray(0, end).toString("latin1");
        const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        if (head.startsWith("HTTP/1.1 200")) ok++;
        buf = buf.subarray(end + 4 + len);
        if (sentN < n) next(); else { c.end(); res(ok); }
      }
    });
    c.on("error", rej);
    c.setTimeout(60_000, () => { c.destroy(); rej(new Error(`kept-alive GETs: no answer after ${ok} of ${n}`)); });
  });
}

describe("httpd (q35, TCG)", () => {
  it("serves a skiff mkfs image from a read-only disk; config changes apply at once", async () => {
    const img = join(dir, "site.img");
    writeFileSync(img, buildSiteImage(collectFiles(site).files));
    const { g, web, api } = await start({ disk: img });
    expect(g.output).toMatch(/httpd: serving 4 files from blk0/);
    await checkServing(web);
    expect((await fetch(`${web}/`)).headers.get("cache-control")).toBeNull();
    const put = await fetch(`${api}/config/httpd.cache-control`, { method: "PUT", headers: { Authorization: `Bearer ${TOKEN}` }, body: "max-age=30" });
    expect(put.status).toBeLessThan(300);
    expect((await fetch(`${web}/`)).headers.get("cache-control")).toBe("max-age=30");
    const metrics = await (await fetch(`${api}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toMatch(/skiff_httpd_responses_total\{outcome="partial"\} [1-9]/);
    // The driver's byte counters: the site was read from blk0, nothing written to it.
    const read = Number(/^skiff_block_read_bytes_total\{device="blk0"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(read).toBeGreaterThanOrEqual(statSync(img).size > 4096 ? 4096 : 512);
    expect(read % 512).toBe(0);
    expect(metrics).toMatch(/^skiff_block_written_bytes_total\{device="blk0"\} 0$/m);
    await g.stop();
  }, 300_000);

  it("serves the same folder embedded in the image; a kept-alive small request costs one frame out", async () => {
    const { g, web, api } = await start({ embed: site });
    expect(g.output).toMatch(/httpd: serving 4 embedded files/);
    await checkServing(web);
    // The response's head and its file body leave in one segment (TCP cork),
    // which also carries the ACK of the request: one frame per request.
    const sent = async () => Number(/^skiff_net_transmit_packets_total\{interface="eth0"\} (\d+)$/m.exec(
      await (await fetch(`${api}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })).text())?.[1]);
    const before = await sent();
    const n = 200;
    expect(await keptAlive(web, "/index.html", n)).toBe(n);
    const perRequest = (await sent() - before - 1) / n;   // less the /metrics answer (~1 frame)
    expect(perRequest).toBeGreaterThan(0.9);
    expect(perRequest).toBeLessThan(1.1);
    await g.stop();
  }, 300_000);
});
