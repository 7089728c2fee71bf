// test/system/token.test.ts — the management API's token stays secret (apps/counter
// under QEMU TCG, microvm, user networking, the API on the network with
// api.net=on and the guest's port 8000 forwarded to a free loopback port). The
// token reaches the guest through fw_cfg as `skiff run` passes it; the guest
// never prints it, so no client can read it back, not even a fragment, from
// the console, /os/dmesg or any other route — also after flooding the log
// with refused requests, which are logged rate-limited and so cannot push the
// boot log out of dmesg.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { randomInt } from "node:crypto";
import { boot, stopAll, type Guest } from "../../harness/index.js";
import { TOKEN_FWCFG_FILE } from "../../cli/lib/apitoken.js";
import { freePort } from "./ports.js";

/** A token every 4-character window of which holds a lower-case letter, an
 *  upper-case letter and a digit: no such window turns up by chance in text,
 *  JSON, numbers or hex, so finding one in served output means a leak. */
function leakCheckableToken(): string {
  const sets = ["abcdefghijkmnpqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789"];
  let t = "";
  for (let i = 0; i < 33; i++) { const s = sets[i % 3]; t += s[randomInt(s.length)]; }
  return t;
}

function fragmentsIn(text: string, token: string): string[] {
  const hits: string[] = [];
  for (let i = 0; i + 4 <= token.length; i++) if (text.includes(token.slice(i, i + 4))) hits.push(token.slice(i, i + 4));
  return hits;
}

afterAll(stopAll);

describe("management API token (apps/counter, microvm, TCG)", () => {
  const TOKEN = leakCheckableToken();
  let dir = "";
  let g: Guest;
  let base = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-token-"));
    const file = join(dir, "api-token");
    writeFileSync(file, TOKEN, { mode: 0o600 });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    g = await boot({
      app: "apps/counter", timeoutMs: 240_000, net: "user", forwards: [`${port}:8000`], cmdline: "api.net=on",
      apiToken: false, hostChannel: true, qemuArgs: ["-fw_cfg", `name=${TOKEN_FWCFG_FILE},file=${file}`],
    });
    await g.waitFor(/api: bearer token from the host/, 120_000);
    await g.waitFor(/listening/, 60_000);
  }, 300_000);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it("the token from the host works, and a wrong or missing one is refused", async () => {
    const ok = await fetch(`${base}/os/hostname?name=tokentest`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await (await fetch(`${base}/os/hostname`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()).toBe("tokentest");
    expect((await fetch(`${base}/os/hostname`)).status).toBe(401);
    const attempts: Record<string, string>[] = [{}, { Authorization: `Bearer ${TOKEN.slice(0, -1)}` }, { Authorization: `Bearer ${TOKEN}x` }];
    for (const h of attempts) {
      expect((await fetch(`${base}/os/hostname?name=evil`, { method: "POST", headers: h })).status).toBe(401);
    }
  });

  it("the host-only channel (a unix socket only this user can open) serves the API without a token", async () => {
    const up = await g.api("GET", "/os/uptime");
    expect(up.status).toBe(200);
    expect(Number.isInteger(JSON.parse(up.body)), up.body).toBe(true);
    expect(JSON.parse((await g.api("GET", "/os/name")).body)).toBe("Skiff");
    const set = await g.api("POST", "/os/hostname?name=viahost");
    expect(set.status).toBe(200);
    expect(await (await fetch(`${base}/os/hostname`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()).toBe("viahost");
    // One client after another: each connection is a new stream.
    for (let i = 0; i < 3; i++) expect((await g.api("GET", "/health")).status).toBe(200);
    expect(statSync(dirname(g.apiSocket)).mode & 0o777).toBe(0o700);
  });

  it("no fragment of it in anything served, with or without it, after refused requests flood the log", async () => {
    // The old attack: refused requests with long paths, each once logged whole, wrapped
    // the 16 KiB dmesg ring until its start cut the printed token in two.
    const long = "p".repeat(200);
    for (let i = 0; i < 120; i++) {
      const r = await fetch(`${base}/config/${long}${i}`, { method: "PUT", body: "x", headers: { "Content-Type": "text/plain" } });
      expect(r.status).toBe(401);
      await r.arrayBuffer();
    }
    expect((await fetch(`${base}/os/dmesg`)).status).toBe(401);
    const dmesg = await (await fetch(`${base}/os/dmesg`, { headers: { Authorization: `Bearer ${TOKEN}` } })).text();
    expect(fragmentsIn(dmesg, TOKEN)).toEqual([]);
    // The boot log is still there: refusals are summed, not logged one by one.
    expect(dmesg).toContain("Skiff 0.1.0 (booted via");
    expect(dmesg.split("\\n").filter((l) => l.includes("refused")).length).toBeLessThanOrEqual(2);
    // Every GET route the API documents: without the token (401), with it,
    // and over the host-only channel.
    const doc = await (await fetch(`${base}/openapi.json`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json() as { paths: Record<string, { get?: unknown }> };
    let scanned = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!ops.get) continue;
      const p = path.replace("{var}", "PATH").replace("{key}", "greeting");
      const without = await fetch(base + p);
      expect([p, without.status]).toEqual([p, p === "/health" ? 200 : 401]);
      expect(fragmentsIn(await without.text(), TOKEN), p).toEqual([]);
      const body = await (await fetch(base + p, { headers: { Authorization: `Bearer ${TOKEN}` } })).text();
      expect(fragmentsIn(body, TOKEN), p).toEqual([]);
      expect(fragmentsIn((await g.api("GET", p)).body, TOKEN), p).toEqual([]);
      scanned++;
    }
    expect(scanned).toBeGreaterThan(15);
    expect(fragmentsIn(g.output, TOKEN)).toEqual([]);
  });
});
