// The REST endpoint (kernel/api) as Wasm in Node with fake providers: every
// route, OSv-shaped answers, config/env stores with change listeners, the
// bearer token (401 leaves state unchanged, 403 read-only, never echoed), the
// route policy of the network listener (api.net=on: every route but /health
// needs the token) against the host-only channel's (none does), the OpenAPI
// document against the route table, and the Prometheus text format.
import { beforeEach, describe, expect, it, beforeAll, afterEach } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel, KernelModule } from "../platform/wasm.js";

type E = {
  setup(cmdline: number, full: number): void; request(buf: number, now: bigint): number;
  requestTimeoutNs(): bigint;
  hasToken(): number; flushAuthLog(now: bigint): void; getProblems(): number; getChanges(): number; getPowerCalls(): number;
  configGet(k: number): number; hostname(): number; useKernelProviders(): void; routeCount(): number; routeAt(i: number): number; log(s: number): void;
  useHostChannel(host: number): void; netEnabled(): number; apiPort(): number; needsTokenFor(p: number): number; tokenEquals(a: number, b: number): number;
  __new(n: number, id: number): number; __pin(p: number): number; __unpin(p: number): void; __collect(): void;
};

let k: KernelModule<E>;
let host: FakeHost;
const SEC = 1_000_000_000n;
const TOKEN = "t0ken-for-tests-0123";

beforeAll(async () => {
  host = new FakeHost();
  k = await loadKernel<E>("test/unit/wasm/api.ts", host);
});

const s = (t: string) => {
  const buf = Buffer.from(t, "utf16le");
  const p = k.exports.__pin(k.exports.__new(buf.length, 2));
  new Uint8Array(k.exports.memory.buffer).set(buf, p);
  return p;
};
const str = (p: number) => k.str(p);

let seen: string[] = [];   // every response, to check that no secret leaks
function setup(cmdline = `console=ttyS0 api.token=${TOKEN} config.mode=fast env.HOME=/ hostname=guest1`, full = true) {
  host.uart.bytes = [];
  const r = k.run(() => k.exports.setup(s(cmdline), full ? 1 : 0));
  expect(r.exit).toBeUndefined();
}

interface Resp { status: number; headers: Map<string, string>; body: string }
function req(method: string, path: string, opts: { body?: string; type?: string; auth?: string | null; now?: bigint } = {}): Resp {
  const body = Buffer.from(opts.body ?? "", "utf8");
  let head = `${method} ${path} HTTP/1.1\r\nHost: skiff\r\n`;
  const auth = opts.auth === undefined ? TOKEN : opts.auth;
  if (auth !== null) head += `Authorization: Bearer ${auth}\r\n`;
  if (opts.type) head += `Content-Type: ${opts.type}\r\n`;
  if (body.length || method === "POST" || method === "PUT") head += `Content-Length: ${body.length}\r\n`;
  const bytes = Buffer.concat([Buffer.from(head + "\r\n", "latin1"), body]);
  const p = k.bytesIn(bytes);
  const r = k.run(() => k.exports.request(p, opts.now ?? 11n * SEC));
  k.exports.__unpin(p);
  expect(r.exit).toBeUndefined();
  const len = new DataView(k.exports.memory.buffer).getUint32(r.value! - 4, true);
  const out = Buffer.from(new Uint8Array(k.exports.memory.buffer).slice(r.value!, r.value! + len)).toString("utf8");
  seen.push(out);
  const [h, ...rest] = out.split("\r\n\r\n");
  const lines = h.split("\r\n");
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) { const i = l.indexOf(": "); headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 2)); }
  return { status: +lines[0].split(" ")[1], headers, body: rest.join("\r\n\r\n") };
}
const json = (r: Resp) => { expect(r.headers.get("content-type")).toBe("application/json"); return JSON.parse(r.body); };

beforeEach(() => { seen = []; setup(); });
afterEach(() => {
  for (const out of seen) expect(out.includes(TOKEN)).toBe(false);
});

const ISSUE_ROUTES = [
  "GET /os/name", "GET /os/version", "GET /os/uptime", "GET /os/date", "GET /os/memory/total", "GET /os/memory/free",
  "GET /os/threads", "GET /os/dmesg", "GET /os/cmdline", "GET /os/hostname", "POST /os/hostname", "POST /os/shutdown",
  "POST /os/reboot", "GET /env/", "GET /env/{var}", "POST /env/{var}", "DELETE /env/{var}", "GET /network/ifconfig",
  "GET /network/route", "GET /hardware/processor/count", "GET /hardware/hypervisor", "GET /hardware/devices",
  "GET /metrics", "GET /config/{key}", "PUT /config/{key}", "DELETE /config/{key}", "GET /openapi.json", "GET /health",
];
function routes(): string[] {
  return Array.from({ length: k.exports.routeCount() }, (_, i) => str(k.exports.routeAt(i)));
}

describe("route table", () => {
  it("serves every route the issue lists; on the network every one but /health needs the token", () => {
    const rs = routes();
    const plain = rs.map((r) => r.replace(/ auth$/, ""));
    for (const r of ISSUE_ROUTES) expect(plain).toContain(r);
    for (const r of rs) expect(r.endsWith(" auth"), r).toBe(r !== "GET /health");
  });

  it("every GET route answers 200 with JSON (or Prometheus text for /metrics)", () => {
    for (const r of routes().filter((x) => x.startsWith("GET "))) {
      const path = r.split(" ")[1].replace("{var}", "HOME").replace("{key}", "mode");
      const res = req("GET", path);
      expect([path, res.status]).toEqual([path, 200]);
      if (path === "/metrics") expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      else expect(() => json(res)).not.toThrow();
    }
  });

  it("405 with Allow for a wrong method, 404 for an unknown path", () => {
    const r = req("DELETE", "/os/name");
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
    expect(req("GET", "/os/nothing").status).toBe(404);
  });
});

describe("OSv-compatible /os, /hardware, /network", () => {
  it("answers name, version, uptime, date, memory", () => {
    expect(json(req("GET", "/os/name"))).toBe("Skiff");
    expect(json(req("GET", "/os/version"))).toBe("0.1.0");
    expect(json(req("GET", "/os/uptime", { now: 11n * SEC }))).toBe(10);
    expect(json(req("GET", "/os/date", { now: 5n * SEC }))).toBe(new Date((1700000000 + 5) * 1000).toISOString().replace(".000", ""));
    expect(json(req("GET", "/os/memory/total"))).toBe(134217728);
    expect(json(req("GET", "/os/memory/free"))).toBe(100000000);
    expect(json(req("GET", "/hardware/processor/count"))).toBe(1);
    expect(json(req("GET", "/hardware/hypervisor"))).toBe("kvm");
  });

  it("lists tasks with CPU time, devices, interfaces and routes", () => {
    const t = json(req("GET", "/os/threads", { now: 2n * SEC }));
    expect(t.time_ms).toBe((1700000000 + 2) * 1000);
    expect(t.list).toEqual([
      { id: 1, name: "idle", status: "ready", cpu_ms: 1500, cpu_ns: 1500000000, switches: 10, cpu: 0 },
      { id: 2, name: 'app "main"', status: "running", cpu_ms: 2, cpu_ns: 2000000, switches: 3, cpu: 0 },
    ]);
    expect(json(req("GET", "/hardware/devices"))).toEqual([
      { name: "vda", type: "blk", transport: "pci", location: "00:04.0", irq: "", state: "ok", detail: "" }]);
    const ifs = json(req("GET", "/network/ifconfig"));
    expect(ifs[0]).toMatchObject({ name: "eth0", mac: "52:54:00:12:34:56", mtu: 1500, up: true, ipv4: "10.0.2.15", prefix_length: 24 });
    expect(ifs[0].stats.rx_bytes).toBe(600);
    expect(json(req("GET", "/network/route"))).toEqual([
      { destination: "0.0.0.0", prefix_length: 0, gateway: "10.0.2.2", interface: "eth0" },
      { destination: "10.0.2.0", prefix_length: 24, gateway: "", interface: "eth0" }]);
  });

  it("works before the other subsystems exist: empty lists, 501/503 where nothing can be said", () => {
    setup("quiet", false);
    k.exports.useHostChannel(1);
    expect(json(req("GET", "/os/threads")).list).toEqual([]);
    expect(json(req("GET", "/network/ifconfig"))).toEqual([]);
    expect(json(req("GET", "/network/route"))).toEqual([]);
    expect(json(req("GET", "/hardware/devices"))).toEqual([]);
    expect(req("GET", "/os/memory/total").status).toBe(501);
    expect(req("GET", "/os/date").status).toBe(503);
    expect(req("GET", "/metrics").status).toBe(200);
  });

  it("gets and sets the host name (query or JSON body), refusing invalid names", () => {
    expect(json(req("GET", "/os/hostname"))).toBe("guest1");
    expect(req("POST", "/os/hostname?name=web-1").status).toBe(200);
    expect(str(k.exports.hostname())).toBe("web-1");
    expect(json(req("POST", "/os/hostname", { body: '"db.example"', type: "application/json" }))).toBe("db.example");
    expect(req("POST", "/os/hostname?name=-bad").status).toBe(400);
    expect(req("POST", "/os/hostname", { body: "x y", type: "text/plain" }).status).toBe(400);
    expect(json(req("GET", "/os/hostname"))).toBe("db.example");
  });

  it("shutdown is accepted (202), handed to the power provider, and closes the connection; reboot unsupported → 501", () => {
    const r = req("POST", "/os/shutdown");
    expect(r.status).toBe(202);
    expect(r.headers.get("connection")).toBe("close");
    expect(str(k.exports.getPowerCalls())).toBe("shutdown;");
    expect(req("POST", "/os/reboot").status).toBe(501);
  });
});

describe("/env and /config", () => {
  it("env: list NAME=value, get, set with ?val= (OSv), delete", () => {
    expect(json(req("GET", "/env/"))).toEqual(["HOME=/"]);
    expect(json(req("GET", "/env/HOME"))).toBe("/");
    expect(req("POST", "/env/LANG?val=C.UTF-8").status).toBe(201);
    expect(json(req("GET", "/env/"))).toEqual(["HOME=/", "LANG=C.UTF-8"]);
    expect(req("POST", "/env/LANG", { body: "POSIX", type: "text/plain" }).status).toBe(200);
    expect(json(req("GET", "/env/LANG"))).toBe("POSIX");
    expect(req("DELETE", "/env/LANG").status).toBe(204);
    expect(req("GET", "/env/LANG").status).toBe(404);
    expect(req("DELETE", "/env/LANG").status).toBe(404);
  });

  it("config: put (201 then 200), get, delete; the app's listener is told each change", () => {
    expect(json(req("GET", "/config/"))).toEqual({ mode: "fast" });
    let r = req("PUT", "/config/log.level", { body: '"debug"', type: "application/json" });
    expect(r.status).toBe(201);
    expect(json(r)).toEqual({ key: "log.level", value: "debug" });
    expect(req("PUT", "/config/log.level", { body: "info", type: "text/plain" }).status).toBe(200);
    expect(req("PUT", "/config/log.level", { body: "info", type: "text/plain" }).status).toBe(200);   // unchanged: no notification
    expect(req("PUT", "/config/retries", { body: "3", type: "application/json" }).status).toBe(201);
    expect(req("PUT", "/config/form", { body: "value=a%20b", type: "application/x-www-form-urlencoded" }).status).toBe(201);
    expect(json(req("GET", "/config/form"))).toBe("a b");
    expect(str(k.exports.configGet(s("log.level")))).toBe("info");
    r = req("DELETE", "/config/log.level");
    expect(r.status).toBe(204);
    expect(r.body).toBe("");
    expect(req("GET", "/config/log.level").status).toBe(404);
    expect(str(k.exports.getChanges())).toBe("log.level=debug;log.level=info;retries=3;form=a b;log.level=(deleted);");
  });

  it("config: refuses bad keys, bad bodies and oversized values", () => {
    expect(req("PUT", "/config/a%20b", { body: "x", type: "text/plain" }).status).toBe(400);
    expect(req("PUT", "/config/k", { body: "{not json", type: "application/json" }).status).toBe(400);
    expect(req("PUT", "/config/k", { body: "[1]", type: "application/json" }).status).toBe(400);
    expect(req("PUT", "/config/k").status).toBe(400);
    expect(req("PUT", "/config/k", { body: "v".repeat(5000), type: "text/plain" }).status).toBe(413);
    expect(req("PUT", "/config/k", { body: "\u00ff", type: "text/plain" }).status).toBe(201);   // UTF-8 text is fine
    expect(str(k.exports.getChanges())).toBe("k=\u00ff;");
  });
});

describe("security", () => {
  it("401 without a valid token, state unchanged, failure counted and logged without the token", () => {
    for (const auth of [null, "wrong-token", TOKEN + "x", ""]) {
      const r = req("PUT", "/config/mode", { body: "slow", type: "text/plain", auth });
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toMatch(/^Bearer realm="skiff"/);
    }
    expect(req("DELETE", "/config/mode", { auth: null }).status).toBe(401);
    expect(req("POST", "/os/shutdown", { auth: null }).status).toBe(401);
    expect(req("POST", "/os/hostname?name=evil", { auth: null }).status).toBe(401);
    expect(req("POST", "/env/X?val=1", { auth: "nope" }).status).toBe(401);
    expect(str(k.exports.configGet(s("mode")))).toBe("fast");
    expect(str(k.exports.getChanges())).toBe("");
    expect(str(k.exports.getPowerCalls())).toBe("");
    expect(str(k.exports.hostname())).toBe("guest1");
    expect(json(req("GET", "/env/"))).toEqual(["HOME=/"]);
    const log = host.uart.text();
    expect(log).toMatch(/api: refused PUT \/config\/mode \(401\); 1 refused so far/);
    k.run(() => k.exports.flushAuthLog(30n * SEC));   // the rest, summed once the interval is over
    expect(host.uart.text()).toMatch(/api: 7 more requests refused \(the last: POST \/env\/X \(401\)\)/);
    expect(log.includes(TOKEN)).toBe(false);
    expect(req("GET", "/metrics").body).toMatch(/^skiff_api_auth_failures_total 8$/m);
  });

  it("refuses a request without the token once its headers are in: no 100 Continue, no body read", () => {
    const send = (text: string) => {
      const p = k.bytesIn(Buffer.from(text, "latin1"));
      const r = k.run(() => k.exports.request(p, 12n * SEC));
      k.exports.__unpin(p);
      const len = new DataView(k.exports.memory.buffer).getUint32(r.value! - 4, true);
      return Buffer.from(new Uint8Array(k.exports.memory.buffer).slice(r.value!, r.value! + len)).toString("latin1");
    };
    // Headers only: a 60 kB body announced, 100-continue asked for.
    let out = send("PUT /config/big HTTP/1.1\r\nHost: s\r\nContent-Type: text/plain\r\nContent-Length: 60000\r\nExpect: 100-continue\r\n\r\n");
    expect(out).toMatch(/^HTTP\/1.1 401 /);
    expect(out).not.toContain("100 Continue");
    expect(out).toMatch(/\r\nConnection: close\r\n/);
    // With the token the same request is told to go on.
    setup();
    out = send(`PUT /config/big HTTP/1.1\r\nHost: s\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    expect(out).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    expect(send("hello")).toMatch(/^HTTP\/1.1 201 /);
  });

  it("read-only mode refuses every state change with 403, even with the token", () => {
    setup(`api.token=${TOKEN} api.readonly config.mode=fast`);
    expect(req("PUT", "/config/mode", { body: "slow", type: "text/plain" }).status).toBe(403);
    expect(req("POST", "/os/shutdown").status).toBe(403);
    expect(str(k.exports.configGet(s("mode")))).toBe("fast");
    expect(str(k.exports.getPowerCalls())).toBe("");
    expect(req("GET", "/config/mode").status).toBe(200);
  });

  it("without a valid token refuses every state change, and prints no token", () => {
    setup("console=ttyS0 api.token=short");
    expect(str(k.exports.getProblems())).toMatch(/api.token must be 8-256 visible ASCII characters; ignored/);
    expect(k.exports.hasToken()).toBe(0);
    for (const auth of [null, "", "short", TOKEN]) {
      expect(req("PUT", "/config/a", { body: "1", type: "text/plain", auth }).status).toBe(401);
    }
    expect(req("GET", "/os/cmdline", { auth: null }).status).toBe(401);
    k.exports.useHostChannel(1);
    expect(json(req("GET", "/os/cmdline", { auth: null }))).toBe("console=ttyS0 api.token=<redacted>");
    expect(host.uart.text()).not.toMatch(/short/);
  });

  it("logs refused requests rate-limited: the first at once, then one summary per 10 s", () => {
    setup();
    for (let i = 0; i < 50; i++) req("PUT", `/config/k${i}`, { body: "1", type: "text/plain", auth: "wrong-token-1", now: 20n * SEC + BigInt(i) });
    let lines = host.uart.text().split(/\r?\n/).filter((l) => l.includes("refused"));
    expect(lines).toEqual(["api: refused PUT /config/k0 (401); 1 refused so far"]);
    k.run(() => k.exports.flushAuthLog(25n * SEC));   // inside the interval: still held
    expect(host.uart.text().split(/\r?\n/).filter((l) => l.includes("refused")).length).toBe(1);
    k.run(() => k.exports.flushAuthLog(31n * SEC));
    lines = host.uart.text().split(/\r?\n/).filter((l) => l.includes("refused"));
    expect(lines).toEqual([
      "api: refused PUT /config/k0 (401); 1 refused so far",
      "api: 49 more requests refused (the last: PUT /config/k49 (401))",
    ]);
    // Long paths are cut in the log.
    req("PUT", "/config/" + "x".repeat(300), { body: "1", type: "text/plain", auth: null, now: 60n * SEC });
    const last = host.uart.text().trim().split(/\r?\n/).pop()!;
    expect(last.length).toBeLessThan(140);
  });

  it("redacts a given token from /os/cmdline, quoted or not", () => {
    setup(`a=1 api.token="${TOKEN}" b=2`);
    expect(json(req("GET", "/os/cmdline"))).toBe("a=1 api.token=<redacted> b=2");
    k.exports.log(s(`echo ${TOKEN} here`));
    expect(json(req("GET", "/os/dmesg"))).toContain("echo <redacted> here");
  });

  it("reads api.port, api.readonly, hostname from the command line and reports bad values", () => {
    setup("api.net=on api.port=http api.token=abcdefgh hostname=bad_name");
    expect(str(k.exports.getProblems())).toBe("api.port=http is not a port (1-65535); using 8000|hostname=bad_name is not a valid host name");
    expect(k.exports.apiPort()).toBe(8000);
    expect(json(req("GET", "/os/hostname", { auth: "abcdefgh" }))).toBe("skiff");
  });

  it("api.request_timeout_ms= sets the server's request timeout; bad values keep 60 s", () => {
    setup("api.request_timeout_ms=2000");
    expect(str(k.exports.getProblems())).toBe("");
    expect(k.exports.requestTimeoutNs()).toBe(2_000_000_000n);
    for (const bad of ["99", "3600001", "2s", "", "-5", "1234567890"]) {
      setup(`api.request_timeout_ms=${bad}`);
      expect(str(k.exports.getProblems()), bad).toBe(`api.request_timeout_ms=${bad} is not a number of milliseconds (100-3600000); using the default`);
      expect(k.exports.requestTimeoutNs(), bad).toBe(60_000_000_000n);
    }
  });
});

describe("route policy: the network listener (api.net=on) and the host-only channel", () => {
  const READS = ["/os/dmesg", "/os/cmdline", "/env/", "/env/HOME", "/config/", "/config/mode", "/os/uptime", "/os/memory",
    "/os/threads", "/metrics", "/openapi.json", "/network/ifconfig", "/hardware/devices"];

  it("api.net: off by default; on, off, a bare flag; a bad value is reported and leaves it off; api.port is checked", () => {
    const cases: [string, boolean, number, string][] = [
      ["", false, 8000, ""],
      ["api.net=on", true, 8000, ""],
      ["api.net", true, 8000, ""],
      ["api.net=yes api.port=9000", true, 9000, ""],
      ["api.net=on api.net=off", false, 8000, ""],
      ["api.net=maybe", false, 8000, "api.net=maybe is not on or off; the API stays off the network"],
      ["api.net=" + "x".repeat(40), false, 8000, `api.net=${"x".repeat(32)}... is not on or off; the API stays off the network`],
      ["api.net=on api.port=0", true, 8000, "api.port=0 is not a port (1-65535); using 8000"],
      ["api.net=on api.port=65536", true, 8000, "api.port=65536 is not a port (1-65535); using 8000"],
      ["api.net=on api.port=-1", true, 8000, "api.port=-1 is not a port (1-65535); using 8000"],
      ["api.net=on api.port=", true, 8000, "api.port= is not a port (1-65535); using 8000"],
      ["api.port=9000", false, 9000, "api.port= has no effect without api.net=on (the API is not on the network)"],
    ];
    for (const [cmdline, net, port, problems] of cases) {
      setup(cmdline);
      expect([cmdline, k.exports.netEnabled() === 1, k.exports.apiPort(), str(k.exports.getProblems())]).toEqual([cmdline, net, port, problems]);
    }
  });

  it("needsToken: only the exact path /health is open", () => {
    const open = (p: string) => k.exports.needsTokenFor(s(p)) === 0;
    expect(open("/health")).toBe(true);
    for (const p of ["/", "/health/", "/Health", "/%68ealth", "/health/x", "/os/uptime", "*", "/openapi.json"]) expect(open(p), p).toBe(false);
  });

  it("the token comparison: equal only for the same string; any length, and an empty secret, fail", () => {
    const eq = (a: string, b: string) => k.exports.tokenEquals(s(a), s(b)) === 1;
    expect(eq(TOKEN, TOKEN)).toBe(true);
    for (const g of ["", TOKEN.slice(0, -1), TOKEN + "0", TOKEN + TOKEN, TOKEN.slice(0, -1) + "4", "x".repeat(TOKEN.length), TOKEN.toUpperCase()]) {
      expect(eq(g, TOKEN), g).toBe(false);
    }
    expect(eq("", "")).toBe(false);
  });

  it("network: /health without the token; every other GET, unknown paths and OPTIONS need it, before routing", () => {
    expect(json(req("GET", "/health", { auth: null })).status).toBe("ok");
    expect(req("HEAD", "/health", { auth: null }).status).toBe(200);
    for (const p of [...READS, "/nothing", "/health/x"]) {
      const r = req("GET", p, { auth: null });
      expect([p, r.status]).toEqual([p, 401]);
      expect(r.headers.get("www-authenticate")).toBe('Bearer realm="skiff"');
      expect(r.body).not.toMatch(/HOME|fast|dmesg|openapi/);
    }
    expect(req("OPTIONS", "/os/name", { auth: null }).status).toBe(401);
    expect(req("HEAD", "/os/dmesg", { auth: null }).status).toBe(401);
    // Wrong tokens: shorter, longer, the same length, another scheme.
    const sameLength = TOKEN.slice(0, -1) + (TOKEN.endsWith("0") ? "1" : "0");
    for (const bad of ["wrong", TOKEN + "x", TOKEN.slice(1), sameLength, ""]) {
      for (const p of ["/os/dmesg", "/env/"]) {
        const r = req("GET", p, { auth: bad });
        expect([bad, p, r.status]).toEqual([bad, p, 401]);
        if (bad) expect(r.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
      }
    }
    expect(req("GET", "/os/dmesg", { auth: null, type: undefined }).status).toBe(401);
    // With the token, the same requests are served.
    for (const p of READS) expect([p, req("GET", p).status]).toEqual([p, 200]);
    expect(req("GET", "/nothing").status).toBe(404);
    expect(req("OPTIONS", "/os/name").status).toBe(204);
    expect(json(req("GET", "/env/"))).toEqual(["HOME=/"]);
  });

  it("network, a body with a GET and no token: 401 before the body, no 100 Continue", () => {
    const p = k.bytesIn(Buffer.from("GET /os/dmesg HTTP/1.1\r\nHost: s\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n", "latin1"));
    const r = k.run(() => k.exports.request(p, 12n * SEC));
    k.exports.__unpin(p);
    const len = new DataView(k.exports.memory.buffer).getUint32(r.value! - 4, true);
    const out = Buffer.from(new Uint8Array(k.exports.memory.buffer).slice(r.value!, r.value! + len)).toString("latin1");
    expect(out).toMatch(/^HTTP\/1.1 401 /);
    expect(out).not.toContain("100 Continue");
  });

  it("network without a token configured: everything but /health is refused, whatever is sent", () => {
    setup("api.net=on config.mode=fast");
    expect(k.exports.hasToken()).toBe(0);
    expect(req("GET", "/health", { auth: null }).status).toBe(200);
    for (const auth of [null, "", "anything-at-all", TOKEN]) {
      for (const [m, p] of [["GET", "/os/uptime"], ["GET", "/config/mode"], ["PUT", "/config/mode"], ["POST", "/os/shutdown"]]) {
        expect([auth, m, p, req(m, p, { auth, body: m === "PUT" ? "x" : undefined, type: "text/plain" }).status]).toEqual([auth, m, p, 401]);
      }
    }
    expect(str(k.exports.configGet(s("mode")))).toBe("fast");
    expect(str(k.exports.getPowerCalls())).toBe("");
  });

  it("read-only on the network: 401 without the token (read-only or not is not told), 403 for a change with it, reads served", () => {
    setup(`api.net=on api.token=${TOKEN} api.readonly config.mode=fast`);
    expect(req("PUT", "/config/mode", { body: "slow", type: "text/plain", auth: null }).status).toBe(401);
    expect(req("GET", "/config/mode", { auth: null }).status).toBe(401);
    expect(req("PUT", "/config/mode", { body: "slow", type: "text/plain" }).status).toBe(403);
    expect(json(req("GET", "/config/mode"))).toBe("fast");
    expect(req("GET", "/metrics").body).toMatch(/^skiff_api_auth_failures_total 3$/m);
  });

  it("host-only channel: no token needed for anything, and a token is not checked; its document lists no security", () => {
    k.exports.useHostChannel(1);
    for (const p of READS) expect([p, req("GET", p, { auth: null }).status]).toEqual([p, 200]);
    expect(req("PUT", "/config/mode", { body: "slow", type: "text/plain", auth: null }).status).toBe(200);
    expect(req("GET", "/os/uptime", { auth: "wrong" }).status).toBe(200);
    expect(str(k.exports.configGet(s("mode")))).toBe("slow");
    const doc = json(req("GET", "/openapi.json", { auth: null }));
    for (const ops of Object.values(doc.paths) as Record<string, { security?: unknown }>[]) {
      for (const op of Object.values(ops)) expect(op.security).toBeUndefined();
    }
    expect(req("GET", "/metrics", { auth: null }).body).toMatch(/^skiff_api_auth_failures_total 0$/m);
  });
});

describe("/openapi.json", () => {
  it("is valid JSON describing every route, with path parameters and security", () => {
    const doc = json(req("GET", "/openapi.json"));
    expect(doc.openapi).toBe("3.0.3");
    expect(doc.info).toMatchObject({ title: "Skiff management API", version: "0.1.0" });
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: "http", scheme: "bearer" });
    const ids = new Set<string>();
    let ops = 0;
    for (const r of routes()) {
      const [method, path, auth] = r.split(" ");
      const op = doc.paths[path]?.[method.toLowerCase()];
      expect(op, `${method} ${path}`).toBeDefined();
      ops++;
      expect(ids.has(op.operationId)).toBe(false);
      ids.add(op.operationId);
      expect(typeof op.summary).toBe("string");
      const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect((op.parameters ?? []).filter((p: { in: string }) => p.in === "path").map((p: { name: string }) => p.name)).toEqual(params);
      if (auth) {
        expect(op.security).toEqual([{ bearerAuth: [] }]);
        expect(op.responses["401"].$ref).toBe("#/components/responses/Unauthorized");
      } else expect(op.security).toBeUndefined();
      const codes = Object.keys(op.responses);
      expect(codes.some((c) => c.startsWith("2"))).toBe(true);
      // Every $ref resolves.
      for (const c of codes) {
        const ref = op.responses[c].$ref;
        if (ref) expect(doc.components.responses[ref.split("/").pop()]).toBeDefined();
      }
    }
    const docOps = Object.values(doc.paths).reduce((n: number, p) => n + Object.keys(p as object).length, 0);
    expect(docOps).toBe(ops);
    expect(doc.paths["/config/{key}"].put.requestBody.content["application/json"].schema).toEqual({ type: "string" });
    expect(doc.paths["/os/shutdown"].post.responses["202"]).toBeDefined();
  });
});

describe("/metrics (Prometheus text format 0.0.4)", () => {
  /** A reference reader for the exposition format; throws on any violation. */
  function parseExposition(text: string) {
    const types = new Map<string, string>();
    const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
    const seenFamilies: string[] = [];
    expect(text.endsWith("\n")).toBe(true);
    for (const line of text.slice(0, -1).split("\n")) {
      let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (m) {
        if (m[1] === "TYPE") {
          expect(["counter", "gauge", "histogram", "summary", "untyped"]).toContain(m[3]);
          expect(types.has(m[2])).toBe(false);    // one TYPE per family
          types.set(m[2], m[3]);
          seenFamilies.push(m[2]);
        } else expect(m[3]).not.toMatch(/\n/);
        continue;
      }
      m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`bad line ${JSON.stringify(line)}`);
      const labels: Record<string, string> = {};
      if (m[3]) {
        const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)/y;
        let pos = 0;
        while (pos < m[3].length) {
          re.lastIndex = pos;
          const lm = re.exec(m[3]);
          if (!lm) throw new Error(`bad labels ${m[3]}`);
          labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
          pos = re.lastIndex;
        }
      }
      const v = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : Number(m[4]);
      expect(Number.isNaN(v) && m[4] !== "NaN").toBe(false);
      const family = m[1].replace(/_(bucket|sum|count)$/, "");
      const fam = types.has(m[1]) ? m[1] : family;
      expect(types.has(fam), `TYPE before ${m[1]}`).toBe(true);
      expect(seenFamilies[seenFamilies.length - 1]).toBe(fam);   // samples follow their own family
      if (types.get(fam) === "counter") expect(fam.endsWith("_total")).toBe(true);
      samples.push({ name: m[1], labels, value: v });
    }
    return { types, samples };
  }

  it("exposes memory, tasks, network, block, request and auth metrics in valid text format", () => {
    req("GET", "/os/name");
    req("GET", "/os/name");
    req("GET", "/nowhere");
    req("PUT", "/config/x", { body: "1", type: "text/plain", auth: null });
    const r = req("GET", "/metrics");
    const { types, samples } = parseExposition(r.body);
    const get = (name: string, labels: Record<string, string> = {}) =>
      samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
    expect(get("skiff_memory_used_bytes", { subsystem: "dma" })).toBe(4217728);
    expect(get("skiff_memory_total_bytes")).toBe(134217728);
    expect(get("skiff_task_cpu_seconds_total", { task: 'app "main"', id: "2" })).toBe(0.002);
    expect(r.body).toContain('task="app \\"main\\""');
    expect(get("skiff_net_receive_bytes_total", { interface: "eth0" })).toBe(600);
    expect(get("skiff_block_read_bytes_total", { device: "vda" })).toBe(3584);
    expect(get("skiff_http_requests_total", { method: "GET", route: "/os/name", code: "200" })).toBe(2);
    expect(get("skiff_http_requests_total", { route: "unmatched", code: "404" })).toBe(1);
    expect(get("skiff_http_requests_total", { method: "PUT", route: "/config/{key}", code: "401" })).toBe(1);
    expect(get("skiff_api_auth_failures_total")).toBe(1);
    expect(types.get("skiff_http_request_duration_seconds")).toBe("histogram");
    // Histogram buckets are cumulative and end at +Inf == _count.
    const buckets = samples.filter((x) => x.name === "skiff_http_request_duration_seconds_bucket" && x.labels.route === "/os/name");
    expect(buckets.at(-1)!.labels.le).toBe("+Inf");
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
    expect(buckets.at(-1)!.value).toBe(get("skiff_http_request_duration_seconds_count", { route: "/os/name" }));
  });
});

describe("kernel-backed providers", () => {
  it("read mm, sched, virtio and CPUID through the same routes", () => {
    // CPUID leaf 1 ECX bit 31 (hypervisor present) and the 0x40000000 signature "KVMKVMKVM\0\0\0".
    host.cpuidTable.set("1", [0, 0, 0x80000000, 0]);
    const sig = Buffer.from("KVMKVMKVM\0\0\0", "latin1");
    host.cpuidTable.set(String(0x40000000), [0x40000001, sig.readUInt32LE(0), sig.readUInt32LE(4), sig.readUInt32LE(8)]);
    const r = k.run(() => k.exports.useKernelProviders());
    expect(r.exit).toBeUndefined();
    expect(json(req("GET", "/hardware/hypervisor"))).toBe("kvm");
    expect(json(req("GET", "/hardware/devices"))).toEqual([]);
    expect(Array.isArray(json(req("GET", "/os/threads")).list)).toBe(true);
    expect(typeof json(req("GET", "/os/memory/total"))).toBe("number");
    const m = req("GET", "/metrics").body;
    expect(m).toMatch(/^skiff_memory_used_bytes\{subsystem="heap"\} \d+$/m);
    expect(m).toMatch(/^skiff_memory_used_bytes\{subsystem="dma"\} \d+$/m);
  });
});
