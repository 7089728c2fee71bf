// test/system/mgmt.test.ts — management reachable by the host only, by default
// (apps/counter under QEMU TCG, microvm, user networking). A default boot serves
// the REST API on the host-only channel (api.sock) and nothing on the guest's
// port 8000: a forward to it finds no listener, while the same kind of forward
// to the app's port 8080 works. With api.net=on the API is on the network too, where only
// /health answers without the token; every other route, GETs included,
// needs it, and a wrong token (shorter, longer, the same length) is refused
// before any body is read. Without a token configured the network side
// refuses everything but /health and says so once. A q35 guest without MSI-X
// has no host channel: Guest.api() goes over the network API with the token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "node:net";
import { boot, stopAll, type Guest } from "../../harness/index.js";
import { freePort } from "./ports.js";

afterAll(stopAll);

/** Sends text on a new connection; resolves with everything received until
 *  the peer closes (or resets), and how it ended. */
function exchange(port: number, text: string, timeoutMs = 20_000): Promise<{ data: string; ended: string }> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (ended: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks).toString("latin1"), ended });
    };
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    s.on("connect", () => s.write(text));
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => finish("end"));
    s.on("close", () => finish("close"));
    s.on("error", (e: NodeJS.ErrnoException) => finish(e.code ?? "error"));
  });
}

async function get(base: string, path: string, token?: string): Promise<{ status: number; body: string; auth: string | null }> {
  const r = await fetch(base + path, { headers: token !== undefined ? { Authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(30_000) });
  return { status: r.status, body: await r.text(), auth: r.headers.get("www-authenticate") };
}


describe("default boot: the API on the host-only channel only (apps/counter, microvm, TCG)", () => {
  let g: Guest;
  let web = 0, api = 0;

  beforeAll(async () => {
    [web, api] = [await freePort(), await freePort()];
    g = await boot({ app: "apps/counter", timeoutMs: 240_000, net: "user", forwards: [`${web}:8080`, `${api}:8000`] });
    await g.waitFor(/api: REST endpoint on the host-only channel; not on the network \(api\.net=on\)/, 120_000);
    await g.waitFor(/listening/, 60_000);
  }, 300_000);

  it("nothing listens on the guest's port 8000, while api.sock answers /os/uptime", async () => {
    expect(g.hasHostChannel).toBe(true);
    expect(g.apiPort).toBeUndefined();
    // The forward works (the app answers through it), so what port 8000 does is the guest's answer.
    const hello = await fetch(`http://127.0.0.1:${web}/hello/you`, { signal: AbortSignal.timeout(30_000) });
    expect(await hello.json()).toEqual({ hello: "you" });
    for (const path of ["/health", "/os/uptime", "/os/dmesg"]) {
      const r = await exchange(api, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect([path, r.data]).toEqual([path, ""]);       // no HTTP answer: the connection is refused (reset) by the guest
      expect(["ECONNRESET", "end", "close"]).toContain(r.ended);
    }
    await expect(fetch(`http://127.0.0.1:${api}/health`, { signal: AbortSignal.timeout(20_000) })).rejects.toThrow();
    const up = await g.api("GET", "/os/uptime");
    expect(up.status).toBe(200);
    expect(Number.isInteger(JSON.parse(up.body)), up.body).toBe(true);
    expect((await g.api("GET", "/os/dmesg")).status).toBe(200);
    expect(g.output).not.toMatch(/api: REST endpoint on TCP port/);
  });
});

describe("api.net=on: every route but /health needs the token (apps/counter, microvm, TCG)", () => {
  let g: Guest;
  let base = "";
  let api = 0;
  let token = "";

  beforeAll(async () => {
    api = await freePort();
    base = `http://127.0.0.1:${api}`;
    g = await boot({ app: "apps/counter", timeoutMs: 240_000, net: "user", forwards: [`${api}:8000`], cmdline: "api.net=on env.SECRET_PLACE=here" });
    token = g.apiToken!;
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    await g.waitFor(/api: REST endpoint on TCP port 8000/, 120_000);
    await g.waitFor(/api: bearer token from the host; every request but \/health needs it/, 60_000);
    await g.waitFor(/listening/, 60_000);
  }, 300_000);

  it("/health answers without the token; /os/dmesg, /env/ and the other GETs get 401 without it, 200 with it", async () => {
    const h = await get(base, "/health");
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body).status).toBe("ok");
    for (const path of ["/os/dmesg", "/env/", "/env/SECRET_PLACE", "/config/", "/os/cmdline", "/os/uptime", "/metrics", "/openapi.json", "/no/such/route"]) {
      const r = await get(base, path);
      expect([path, r.status]).toEqual([path, 401]);
      expect(r.auth, path).toBe('Bearer realm="skiff"');
      expect(r.body, path).not.toContain("here");
    }
    const dmesg = await get(base, "/os/dmesg", token);
    expect(dmesg.status).toBe(200);
    expect(dmesg.body).toContain("api: REST endpoint on TCP port 8000");
    const env = await get(base, "/env/", token);
    expect(env.status).toBe(200);
    expect(JSON.parse(env.body)).toContain("SECRET_PLACE=here");
    expect((await get(base, "/no/such/route", token)).status).toBe(404);
  });

  it("a wrong token of another length or of the same length gets 401", async () => {
    const sameLength = token.slice(0, -1) + (token.endsWith("0") ? "1" : "0");
    // 4 tokens x 2 paths + 1 POST: 9 wrong tries, under the per-peer slow-down's 10.
    for (const bad of [token.slice(0, 8), token + "0", token.slice(1), sameLength]) {
      expect(bad === token).toBe(false);
      for (const path of ["/os/dmesg", "/env/"]) {
        const r = await get(base, path, bad);
        expect([bad, path, r.status]).toEqual([bad, path, 401]);
        expect(r.auth).toMatch(/error="invalid_token"/);
      }
    }
    const refused = await fetch(`${base}/os/hostname?name=evil`, { method: "POST", headers: { Authorization: `Bearer ${sameLength}` } });
    expect(refused.status).toBe(401);
    expect(JSON.parse((await g.api("GET", "/os/hostname")).body)).toBe("skiff");
  });

  it("the tenth wrong token from one address blocks it: 429 with Retry-After, the right token too, until the block ends", async () => {
    expect((await get(base, "/os/uptime", "x".repeat(token.length))).status).toBe(401);     // the 10th
    const blocked = await fetch(`${base}/os/uptime`, { headers: { Authorization: `Bearer ${"y".repeat(token.length)}` } });
    expect(blocked.status).toBe(429);
    const wait = Number(blocked.headers.get("retry-after"));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect((await get(base, "/os/uptime", token)).status).toBe(429);
    expect((await get(base, "/health")).status).toBe(200);                                    // needs no token
    await new Promise((r) => setTimeout(r, wait * 1000 + 500));
    expect((await get(base, "/os/uptime", token)).status).toBe(200);
  });

  it("refuses before the body: no 100 Continue for a request without the token", async () => {
    const r = await exchange(api, "PUT /config/x HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 40000\r\nExpect: 100-continue\r\n\r\n");
    expect(r.data).toMatch(/^HTTP\/1\.1 401 /);
    expect(r.data).not.toContain("100 Continue");
  });

  it("the host-only channel still answers without a token", async () => {
    expect(g.hasHostChannel).toBe(true);
    expect((await g.api("GET", "/os/uptime")).status).toBe(200);
    expect((await g.api("GET", "/env/SECRET_PLACE")).body).toBe('"here"');
  });
});

describe("api.net=on without a token: only /health (apps/counter, microvm, TCG)", () => {
  it("refuses everything but /health, says so once on the console, and prints no token", { timeout: 300_000 }, async () => {
    const api = await freePort();
    const base = `http://127.0.0.1:${api}`;
    const g = await boot({ app: "apps/counter", timeoutMs: 240_000, net: "user", forwards: [`${api}:8000`], cmdline: "api.net=on", apiToken: false });
    try {
      await g.waitFor(/api: REST endpoint on TCP port 8000/, 120_000);
      await g.waitFor(/listening/, 60_000);
      expect((await get(base, "/health")).status).toBe(200);
      for (const t of [undefined, "", "anything-at-all", "0123456789abcdef0123456789abcdef"]) {
        for (const path of ["/os/uptime", "/os/dmesg", "/env/"]) expect([t, path, (await get(base, path, t)).status]).toEqual([t, path, 401]);
      }
      const shut = await fetch(`${base}/os/shutdown`, { method: "POST", headers: { Authorization: "Bearer anything-at-all" } });
      expect(shut.status).toBe(401);
      const said = g.output.match(/api: no token \(give api\.token= or boot with skiff run\): the network refuses every request but \/health/g) ?? [];
      expect(said).toHaveLength(1);
      expect((await g.api("GET", "/os/uptime")).status).toBe(200);
    } finally {
      await g.stop();
    }
  });
});

describe("no host channel (q35, INTx: msix false): Guest.api() uses the network API with the token", () => {
  it("answers /os/uptime over the forward with the token; a request without it is refused", { timeout: 360_000 }, async () => {
    const api = await freePort();
    const g = await boot({
      app: "apps/counter", machine: "q35", timeoutMs: 300_000, cmdline: "api.net=on",
      devices: { net: { mode: "user", forwards: [{ proto: "tcp", hostPort: api, guestPort: 8000 }] }, msix: false },
    });
    try {
      expect(g.hasHostChannel).toBe(false);
      expect(g.apiPort).toBe(api);
      await g.waitFor(/api: REST endpoint on TCP port 8000/, 180_000);
      await g.waitFor(/listening/, 60_000);
      const up = await g.api("GET", "/os/uptime");
      expect(up.status, up.body).toBe(200);
      expect((await get(`http://127.0.0.1:${api}`, "/os/uptime")).status).toBe(401);
    } finally {
      await g.stop();
    }
  });
});
