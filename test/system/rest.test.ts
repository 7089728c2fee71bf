// test/system/rest.test.ts — the REST management endpoint in a real guest
// (apps/httpd under QEMU TCG, q35, virtio-net on user networking, the API on
// the network with api.net=on and the guest's port 8000 forwarded to a free
// loopback port): every GET route of the OpenAPI document answers, with the
// token, with a body its schema accepts; state changes without the token are
// refused with 401 and change nothing; malformed and
// oversized requests get their status; a slow request gets 408 once the
// request timeout (api.request_timeout_ms=2000 here) passes and its connection
// is closed, while another client is served meanwhile; a
// fuzz run leaves the guest alive with bounded memory; /metrics parses as
// Prometheus text; POST /os/shutdown ends the guest with status 0.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "node:net";
import { boot, stopAll, type Guest } from "../../harness/index.js";
import { freePort } from "./ports.js";

afterAll(stopAll);
const TOKEN = "sys-test-token-0123456789";
/** The endpoint's request timeout for this guest (the default is 60 s). */
const REQUEST_TIMEOUT_MS = 2000;
const AUTH = { Authorization: `Bearer ${TOKEN}` };
/** fetch with the token: on the network every route but /health needs it. */
function authed(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, headers: { ...AUTH, ...(init.headers as Record<string, string> | undefined) } });
}

/** Sends raw bytes on a fresh connection; resolves with all it got until the guest closed or ms passed. */
function raw(port: number, data: Buffer | string, ms = 15000): Promise<string> {
  return new Promise((res) => {
    const chunks: Buffer[] = [];
    const s = connect(port, "127.0.0.1");
    const t = setTimeout(() => { s.destroy(); res(Buffer.concat(chunks).toString("latin1")); }, ms);
    // An answer is one response here: once bytes stop coming for a moment, it is complete.
    let quiet: NodeJS.Timeout | undefined;
    const done = () => { clearTimeout(t); clearTimeout(quiet); s.destroy(); res(Buffer.concat(chunks).toString("latin1")); };
    s.on("data", (d) => { chunks.push(d); clearTimeout(quiet); quiet = setTimeout(done, 500); });
    s.on("close", done);
    s.on("error", () => {});
    s.write(data);
  });
}

type Schema = { type?: string; properties?: Record<string, Schema>; additionalProperties?: Schema | boolean; items?: Schema; required?: string[] };
/** The JSON Schema subset the endpoint's document uses. */
function validate(v: unknown, s: Schema, at = "$"): string[] {
  const errs: string[] = [];
  const t = s.type;
  if (t === "string" && typeof v !== "string") errs.push(`${at}: expected string`);
  if (t === "integer" && !Number.isInteger(v)) errs.push(`${at}: expected integer, got ${JSON.stringify(v)}`);
  if (t === "number" && typeof v !== "number") errs.push(`${at}: expected number`);
  if (t === "boolean" && typeof v !== "boolean") errs.push(`${at}: expected boolean`);
  if (t === "array") {
    if (!Array.isArray(v)) errs.push(`${at}: expected array`);
    else if (s.items) v.forEach((x, i) => errs.push(...validate(x, s.items!, `${at}[${i}]`)));
  }
  if (t === "object") {
    if (typeof v !== "object" || v === null || Array.isArray(v)) errs.push(`${at}: expected object`);
    else {
      const o = v as Record<string, unknown>;
      for (const r of s.required ?? []) if (!(r in o)) errs.push(`${at}: missing ${r}`);
      for (const [k, x] of Object.entries(o)) {
        if (s.properties?.[k]) errs.push(...validate(x, s.properties[k], `${at}.${k}`));
        else if (typeof s.additionalProperties === "object") errs.push(...validate(x, s.additionalProperties, `${at}.${k}`));
      }
    }
  }
  return errs;
}

/** Prometheus text format 0.0.4: HELP/TYPE lines, then samples of declared families. */
function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const families = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === "TYPE") { expect(["counter", "gauge", "histogram", "summary", "untyped"]).toContain(m[3]); families.add(m[2]); }
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? ([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|NaN|\+Inf|-Inf))$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const fam = m[1].replace(/_(bucket|sum|count)$/, "");
    if (!families.has(m[1]) && !families.has(fam)) throw new Error(`sample ${m[1]} before its # TYPE`);
    out.set(m[1] + (m[2] ?? ""), Number(m[3]));
  }
  return out;
}

describe("REST endpoint (apps/httpd, q35, TCG)", () => {
  let g: Guest;
  let port = 0;
  let base = "";
  const auth = { Authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    g = await boot({
      app: "apps/httpd", machine: "q35", timeoutMs: 280_000,
      cmdline: `api.net=on api.token=${TOKEN} hostname=resttest config.greeting=hi api.request_timeout_ms=${REQUEST_TIMEOUT_MS}`,
      qemuArgs: ["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:8000`, "-device", "virtio-net-pci,netdev=n0,romfile="],
    });
    await g.waitFor(/api: REST endpoint on TCP port 8000/, 120_000);
    await g.waitFor(/net: dhcp: 10\.0\.2\.15/, 60_000);
  }, 300_000);

  it("every GET route of /openapi.json answers as documented", async () => {
    const doc = await (await authed(`${base}/openapi.json`)).json() as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>> };
    expect(doc.openapi).toMatch(/^3\./);
    const paths = Object.keys(doc.paths);
    expect(paths).toEqual(expect.arrayContaining(["/os/uptime", "/os/shutdown", "/config/{key}", "/metrics", "/network/ifconfig"]));
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!ops.get || path.includes("{")) continue;
      const r = await authed(base + path);
      const [code, resp] = Object.entries(ops.get.responses).find(([c]) => c.startsWith("2"))!;
      expect(r.status, path).toBe(Number(code));
      const type = Object.keys(resp.content ?? {})[0];
      const body = await r.text();
      if (type === "application/json") {
        expect(r.headers.get("content-type"), path).toMatch(/^application\/json/);
        const errs = validate(JSON.parse(body), resp.content![type].schema);
        expect(errs, `${path}: ${body.slice(0, 200)}`).toEqual([]);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(15);
    expect(await (await authed(`${base}/os/hostname`)).json()).toBe("resttest");
    expect(await (await authed(`${base}/config/greeting`)).json()).toBe("hi");
    const ifc = await (await authed(`${base}/network/ifconfig`)).json() as { ipv4: string }[];
    expect(ifc[0].ipv4).toBe("10.0.2.15");
    // The token never appears in what the endpoint serves.
    expect(await (await authed(`${base}/os/cmdline`)).text()).not.toContain(TOKEN);
  });

  it("state changes without the token get 401 and change nothing", async () => {
    expect((await fetch(`${base}/config/mode`, { method: "PUT", headers: auth, body: "fast" })).status).toBeLessThan(300);
    const tries: [string, string, Record<string, string>][] = [
      ["PUT", "/config/mode", {}], ["PUT", "/config/new", {}], ["DELETE", "/config/mode", {}],
      ["POST", "/os/hostname?name=evil", {}], ["POST", "/env/EVIL?val=1", {}], ["POST", "/os/shutdown", {}],
      ["PUT", "/config/mode", { Authorization: "Bearer wrong-token-000" }], ["PUT", "/config/mode", { Authorization: `Basic ${TOKEN}` }],
    ];
    for (const [method, path, headers] of tries) {
      const r = await fetch(base + path, { method, headers, body: method === "DELETE" ? undefined : "slow" });
      expect(r.status, `${method} ${path}`).toBe(401);
    }
    expect(await (await authed(`${base}/config/mode`)).json()).toBe("fast");
    expect((await authed(`${base}/config/new`)).status).toBe(404);
    expect(await (await authed(`${base}/os/hostname`)).json()).toBe("resttest");
    expect((await authed(`${base}/env/EVIL`)).status).toBe(404);
    expect((await fetch(`${base}/health`)).status).toBe(200);         // the one route open without the token
    expect((await fetch(`${base}/config/mode`)).status).toBe(401);
    const m = parsePrometheus(await (await authed(`${base}/metrics`)).text());
    expect(m.get("skiff_api_auth_failures_total")).toBeGreaterThanOrEqual(tries.length);
    // The event loop's idle time: a guest left alone for 2 s halts most of it.
    await new Promise((r) => setTimeout(r, 2000));
    const m2 = parsePrometheus(await (await authed(`${base}/metrics`)).text());
    expect(m2.get("skiff_sched_idle_seconds_total")! - m.get("skiff_sched_idle_seconds_total")!).toBeGreaterThan(1.0);
    expect(m2.get("skiff_sched_halts_total")!).toBeGreaterThan(m.get("skiff_sched_halts_total")!);
    expect(m2.get("skiff_sched_passes_total")!).toBeGreaterThan(m.get("skiff_sched_passes_total")!);
  });

  it("malformed and oversized requests get their status", async () => {
    const cases: [string | Buffer, number][] = [
      ["GARBAGE\r\n\r\n", 400],
      ["GET /os/uptime HTTP/1.1\r\n\r\n", 400],                                   // no Host
      [`GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
      [`GET /os/uptime HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(9000)}\r\n\r\n`, 431],
      [`PUT /config/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 70000\r\n\r\n`, 413],
      ["GET /os/uptime HTTP/2.0\r\nHost: x\r\n\r\n", 505],
      ["GET /os/uptime HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
      ["GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 401],                           // no token: nothing but /health
      [`GET /nope HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`, 404],
      [`DELETE /os/uptime HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`, 405],
    ];
    for (const [req, status] of cases) {
      const out = await raw(port, req);
      expect(out.slice(0, 12), JSON.stringify(String(req).slice(0, 40))).toBe(`HTTP/1.1 ${status}`);
    }
    expect((await authed(`${base}/os/uptime`)).status).toBe(200);
  });

  it("a slow request gets 408 and its connection closed after api.request_timeout_ms; others are served meanwhile", async () => {
    // A slow client sends half a request line and nothing more...
    const slow = connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    slow.on("data", (d) => got.push(d));
    slow.on("error", () => {});
    const closed = new Promise<boolean>((res) => {
      slow.on("close", () => res(true));
      // A bound well under the 60 s default, so the test fails if the option is ignored.
      setTimeout(() => res(false), 10 * REQUEST_TIMEOUT_MS);
    });
    await new Promise<void>((res) => slow.on("connect", () => res()));
    slow.write("GET /os/upt");
    // ... while other clients are served, on fresh connections and on a raw one.
    let served = 0;
    for (let i = 0; i < 3; i++) if ((await authed(`${base}/os/uptime`)).status === 200) served++;
    expect((await raw(port, `GET /os/uptime HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)).slice(0, 12)).toBe("HTTP/1.1 200");
    expect(served).toBe(3);
    // The guest answers the slow one with 408 and closes it (RFC 9110 §15.5.9).
    expect(await closed, "the guest never closed the slow connection").toBe(true);
    const answer = Buffer.concat(got).toString("latin1");
    expect(answer.slice(0, 12)).toBe("HTTP/1.1 408");
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(g.output).not.toMatch(/panic|abort/i);
    expect((await authed(`${base}/os/uptime`)).status).toBe(200);
  }, 120_000);

  it("a fuzz run of random and mutated requests leaves the guest alive with bounded memory", async () => {
    const free0 = await (await authed(`${base}/os/memory/free`)).json() as number;
    let seed = 4242;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
    const seeds = [
      `GET /os/uptime HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
      `PUT /config/fuzz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 3\r\n\r\nabc`,
      "POST /env/A?val=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      `GET /metrics HTTP/1.0\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
    ];
    const batch = async (n: number) => {
      const all: Promise<string>[] = [];
      for (let i = 0; i < n; i++) {
        let b: Buffer;
        if (rnd(4) === 0) b = Buffer.from(Array.from({ length: 1 + rnd(300) }, () => rnd(256)));
        else {
          b = Buffer.from(seeds[rnd(seeds.length)], "latin1");
          for (let j = 0; j < 1 + rnd(4); j++) {
            const op = rnd(3), at = rnd(b.length);
            if (op === 0) b[at] = rnd(256);
            else if (op === 1) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rnd(5))]);
            else b = Buffer.concat([b.subarray(0, at), Buffer.from([rnd(256), 13, 10]), b.subarray(at)]);
          }
        }
        all.push(raw(port, b, 3000));
      }
      return Promise.all(all);
    };
    for (let round = 0; round < 15; round++) await batch(10);
    expect((await authed(`${base}/health`)).status).toBe(200);
    const free1 = await (await authed(`${base}/os/memory/free`)).json() as number;
    expect(free0 - free1).toBeLessThan(16 << 20);
    expect(g.output).not.toMatch(/panic|abort/i);
  }, 200_000);

  it("POST /os/shutdown ends the guest with status 0", async () => {
    const r = await fetch(`${base}/os/shutdown`, { method: "POST", headers: auth });
    expect(r.status).toBe(202);
    const exit = await g.wait();
    expect(exit.status).toBe(0);
    expect(exit.serial).toMatch(/api: shutdown requested/);
  }, 60_000);
});

describe("POST /os/reboot (apps/counter, microvm, TCG)", () => {
  it("answers 202, resets the devices and ends QEMU asking to be started again (status 74)", async () => {
    const port = await freePort();
    const g = await boot({
      app: "apps/counter", machine: "microvm", timeoutMs: 120_000,
      cmdline: `api.net=on api.token=${TOKEN}`,
      qemuArgs: ["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:8000`, "-device", "virtio-net-device,netdev=n0"],
    });
    try {
      await g.waitFor(/api: REST endpoint on TCP port 8000/, 90_000);
      const refused = await fetch(`http://127.0.0.1:${port}/os/reboot`, { method: "POST" });
      expect(refused.status).toBe(401);
      const r = await fetch(`http://127.0.0.1:${port}/os/reboot`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(r.status).toBe(202);
      const exit = await g.wait();
      expect(exit.status).toBe(74);
      expect(exit.serial).toMatch(/api: reboot requested/);
    } finally {
      await g.stop();
    }
  }, 150_000);
});
