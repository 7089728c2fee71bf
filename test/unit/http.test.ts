// The HTTP/1.1 server core (kernel/lib/http) as Wasm in Node, driven with byte
// strings: framing, pipelining, keep-alive, limits and their status codes,
// timeouts on a fake clock, routing, bearer-token checks, and a fuzz run.
import { beforeEach, describe, expect, it, beforeAll } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel, KernelModule } from "../platform/wasm.js";

type E = {
  findByteIn(buf: number, from: number, to: number, b: number): number;
  setup(rl: number, hl: number, hb: number, hn: number, body: number, reqLen: number, idle: bigint, reqT: bigint, maxConn: number, maxOut: number): void;
  setReadOnly(v: number): void;
  open(now: bigint): number; feed(c: number, buf: number, now: bigint): number; take(c: number): number; takeSome(c: number, n: number): number;
  poll(c: number, now: bigint): bigint; shouldClose(c: number): number; peerClosed(c: number, now: bigint): void; close(c: number): void;
  active(): number; bumps(): number; failures(): bigint; getCompletions(): number; getRefusals(): number; stat(n: number): bigint;
  date(t: bigint): number; parseOnly(buf: number, step: number): number;
  openFrom(now: bigint, peer: number): number; setPerPeer(n: number): void; getDrops(): number; budgetUsed(): bigint;
  peerConnections(peer: number): number; setThrottleCapacity(n: number): void; throttleStat(name: number): bigint;
  latin1Bytes(s: number): number;
  __new(n: number, id: number): number; __pin(p: number): number; __unpin(p: number): void; __collect(): void;
};

let k: KernelModule<E>;
const SEC = 1_000_000_000n;

beforeAll(async () => {
  k = await loadKernel<E>("test/unit/wasm/http.ts", new FakeHost());
});

interface Opts { rl?: number; hl?: number; hb?: number; hn?: number; body?: number; reqLen?: boolean; idle?: bigint; reqT?: bigint; maxConn?: number; maxOut?: number }
function setup(o: Opts = {}) {
  k.exports.setup(o.rl ?? 8192, o.hl ?? 8192, o.hb ?? 16384, o.hn ?? 64, o.body ?? 1 << 20, o.reqLen ? 1 : 0,
    o.idle ?? 30n * SEC, o.reqT ?? 60n * SEC, o.maxConn ?? 16, o.maxOut ?? 1 << 18);
}
const s = (t: string) => {
  const buf = Buffer.from(t, "utf16le");
  const p = k.exports.__pin(k.exports.__new(buf.length, 2));
  new Uint8Array(k.exports.memory.buffer).set(buf, p);
  return p;
};
function buffer(ptr: number): Buffer {
  const len = new DataView(k.exports.memory.buffer).getUint32(ptr - 4, true);
  return Buffer.from(new Uint8Array(k.exports.memory.buffer).slice(ptr, ptr + len));
}
function feed(c: number, data: string | Uint8Array, now = 0n): number {
  const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  const p = k.bytesIn(bytes);
  const r = k.run(() => k.exports.feed(c, p, now));
  k.exports.__unpin(p);
  expect(r.exit).toBeUndefined();
  return r.value!;
}
const take = (c: number) => buffer(k.exports.take(c));
const str = (p: number) => k.str(p);

interface Resp { status: number; reason: string; headers: Map<string, string>; raw: string[]; body: Buffer }
/** A reference reader for the server's output, independent of the kernel code. */
function responses(buf: Buffer, heads: Set<number> = new Set()): Resp[] {
  const out: Resp[] = [];
  let off = 0;
  while (off < buf.length) {
    const end = buf.indexOf("\r\n\r\n", off, "latin1");
    if (end < 0) throw new Error(`truncated response head: ${JSON.stringify(buf.subarray(off).toString("latin1"))}`);
    const lines = buf.subarray(off, end).toString("latin1").split("\r\n");
    const m = /^HTTP\/1\.1 (\d{3}) ([^\r\n]*)$/.exec(lines[0]);
    if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const hm = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+): (.*)$/.exec(l);
      if (!hm) throw new Error(`bad header line ${JSON.stringify(l)}`);
      const n = hm[1].toLowerCase();
      headers.set(n, headers.has(n) ? headers.get(n) + ", " + hm[2] : hm[2]);
    }
    off = end + 4;
    const status = +m[1];
    let body: Buffer = Buffer.alloc(0);
    const isHead = heads.has(out.length);
    if (status >= 200 && status !== 204 && status !== 304 && !isHead) {
      if (headers.get("transfer-encoding") === "chunked") {
        const parts: Buffer[] = [];
        for (;;) {
          const le = buf.indexOf("\r\n", off, "latin1");
          const size = parseInt(buf.subarray(off, le).toString("latin1"), 16);
          off = le + 2;
          if (size === 0) { expect(buf.subarray(off, off + 2).toString()).toBe("\r\n"); off += 2; break; }
          parts.push(buf.subarray(off, off + size));
          off += size;
          expect(buf.subarray(off, off + 2).toString()).toBe("\r\n");
          off += 2;
        }
        body = Buffer.concat(parts);
      } else {
        const cl = Number(headers.get("content-length") ?? "NaN");
        expect(Number.isInteger(cl)).toBe(true);
        body = buf.subarray(off, off + cl);
        if (body.length !== cl) throw new Error("truncated body");
        off += cl;
      }
    }
    out.push({ status, reason: m[2], headers, raw: lines, body });
  }
  return out;
}
function one(c: number, req: string | Uint8Array, now = 0n): Resp {
  feed(c, req, now);
  const r = responses(take(c));
  expect(r.length).toBe(1);
  return r[0];
}
const GET = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;

beforeEach(() => setup());

describe("requests and responses", () => {
  it("answers a GET with status line, Date, Content-Type and Content-Length", () => {
    const c = k.exports.open(0n);
    const raw = (feed(c, GET("/hello")), take(c)).toString("latin1");
    expect(raw).toBe("HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: Skiff\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello");
    expect(k.exports.shouldClose(c)).toBe(0);
  });

  it("formats IMF-fixdate like JavaScript's toUTCString for many instants", () => {
    const ts = [0, 1, 86399, 86400, 951782400 /* 2000-02-29 */, 4107542400 /* 2100-03-01 */, 1709251199, 253402300799, -1, -86401];
    let seed = 7;
    for (let i = 0; i < 200; i++) ts.push((seed = (seed * 48271) % 2147483647) * 3);
    for (const t of ts) expect(str(k.exports.date(BigInt(t)))).toBe(new Date(t * 1000).toUTCString());
  });

  it("HEAD gets GET's headers and no body; OPTIONS lists the allowed methods", () => {
    const c = k.exports.open(0n);
    feed(c, `HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n` + GET("/hello"));
    const [h, g] = responses(take(c), new Set([0]));
    expect(h.status).toBe(200);
    expect(h.headers.get("content-length")).toBe("5");
    expect(h.body.length).toBe(0);
    expect(g.body.toString()).toBe("hello");
    const o = one(c, `OPTIONS /items/7 HTTP/1.1\r\nHost: t\r\n\r\n`);
    expect(o.status).toBe(204);
    expect(o.headers.get("allow")).toBe("GET, DELETE, HEAD, OPTIONS");
    expect(o.headers.has("content-length")).toBe(false);
    const star = one(c, `OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n`);
    expect(star.status).toBe(204);
  });

  it("accepts absolute-form targets and bare-LF line ends, ignores leading empty lines", () => {
    const c = k.exports.open(0n);
    expect(one(c, "GET http://example.com/hello HTTP/1.1\r\nHost: example.com\r\n\r\n").body.toString()).toBe("hello");
    expect(one(c, "\r\n\r\nGET /hello HTTP/1.1\nHost: t\n\n").body.toString()).toBe("hello");
  });

  it("treats HTTP/1.2 as 1.1 and refuses HTTP/2.0 with 505", () => {
    const c = k.exports.open(0n);
    expect(one(c, "GET /hello HTTP/1.2\r\nHost: t\r\n\r\n").status).toBe(200);
    const r = one(c, "GET /hello HTTP/2.0\r\nHost: t\r\n\r\n");
    expect(r.status).toBe(505);
    expect(r.headers.get("connection")).toBe("close");
  });

  it("answers 500 when a handler sets no response", () => {
    const c = k.exports.open(0n);
    const r = one(c, GET("/nothing"));
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body.toString())).toEqual({ code: 500, message: "handler produced no response" });
    expect(k.exports.shouldClose(c)).toBe(0);   // a handler bug is not a framing error
  });

  it("keeps handler-set headers from injecting lines or overriding framing", () => {
    const c = k.exports.open(0n);
    const r = one(c, GET("/evil"));
    expect(r.raw.some((l) => l.startsWith("Set-Cookie"))).toBe(false);
    expect(r.headers.get("x-injected")).toBe("a  Set-Cookie: x=1");
    expect(r.headers.get("content-length")).toBe("2");
    expect(r.headers.has("bad name")).toBe(false);
    expect(r.raw).toContain("X-Padded: padded value");     // values are trimmed, NBSP too
    expect(r.raw).toContain("X-Nbsp: nb");
    expect(r.raw).toContain("X-Clean: clean");
  });

  it("writes HeaderLines made once as they were checked then, on every response, and as changed when changed", () => {
    const c = k.exports.open(0n);
    for (let i = 0; i < 3; i++) {
      const r = one(c, GET("/lines"));
      expect(r.status).toBe(200);
      expect(r.raw).toContain("X-Tag: one");
      expect(r.raw).toContain("X-Line-Injected: a  Set-Cookie: y=2");
      expect(r.raw.some((l) => l.startsWith("Set-Cookie"))).toBe(false);
      expect(r.headers.has("bad name")).toBe(false);
      expect(r.headers.get("content-length")).toBe("7");        // the body's: "lines 1" (the bad name dropped)
      expect(r.headers.get("content-type")).toBe("text/x-line");
      expect(r.raw.filter((l) => /^content-(length|type):/i.test(l))).toHaveLength(2);
      expect(r.raw).toContain("X-Changed: before");
    }
    const r = one(c, GET("/lines?change=1"));
    expect(r.raw).toContain("X-Changed: after");
    expect(r.raw).not.toContain("X-Changed: before");
    // One object shared by every response it is added to: the change stays.
    expect(one(c, GET("/lines")).raw).toContain("X-Changed: after");
  });
});

describe("persistent connections and pipelining (RFC 9112 §9)", () => {
  it("answers pipelined requests in order, whatever the split of the bytes", () => {
    const reqs = GET("/hello") + GET("/items/42?q=a+b%21") + "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz" + GET("/files/a/b%2Fc/d.txt");
    const want = ["hello", '{"id":"42","q":"a b!","route":"/items/{id}"}', "xyz", "file:a/b/c/d.txt"];
    for (const step of [reqs.length, 1, 2, 3, 7, 13]) {
      setup();
      const c = k.exports.open(0n);
      const bytes = Buffer.from(reqs, "latin1");
      const chunks: Buffer[] = [];
      for (let off = 0; off < bytes.length; off += step) {
        expect(feed(c, bytes.subarray(off, off + step))).toBe(Math.min(step, bytes.length - off));
        chunks.push(take(c));
      }
      const rs = responses(Buffer.concat(chunks));
      expect(rs.map((r) => r.body.toString())).toEqual(want);
      expect(k.exports.shouldClose(c)).toBe(0);
    }
  });

  it("closes after Connection: close and ignores what follows it", () => {
    const c = k.exports.open(0n);
    feed(c, GET("/hello", "Connection: close\r\n") + GET("/hello"));
    const rs = responses(take(c));
    expect(rs.length).toBe(1);
    expect(rs[0].headers.get("connection")).toBe("close");
    expect(k.exports.shouldClose(c)).toBe(1);
  });

  it("closes HTTP/1.0 by default and keeps it open with Connection: keep-alive", () => {
    let c = k.exports.open(0n);
    let r = one(c, "GET /hello HTTP/1.0\r\n\r\n");
    expect(r.headers.get("connection")).toBe("close");
    expect(k.exports.shouldClose(c)).toBe(1);
    c = k.exports.open(0n);
    r = one(c, "GET /hello HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    expect(r.headers.get("connection")).toBe("keep-alive");
    expect(k.exports.shouldClose(c)).toBe(0);
  });

  it("lets a handler close the connection", () => {
    const c = k.exports.open(0n);
    feed(c, GET("/close") + GET("/hello"));
    const rs = responses(take(c));
    expect(rs.map((r) => r.body.toString())).toEqual(["bye"]);
    expect(k.exports.shouldClose(c)).toBe(1);
  });

  it("pauses pipelined requests while output is unread, and resumes as it drains", () => {
    setup({ maxOut: 300 });
    const c = k.exports.open(0n);
    const n = 12;
    expect(feed(c, GET("/hello").repeat(n))).toBe(GET("/hello").length * n);
    const first = k.exports.takeSome(c, 50);
    const parts = [buffer(first)];
    for (let i = 0; i < 100; i++) {
      const b = buffer(k.exports.takeSome(c, 200));
      if (b.length === 0) break;
      parts.push(b);
    }
    expect(responses(Buffer.concat(parts)).length).toBe(n);
  });

  it("stops accepting input when its buffer is full (TCP window pushes back)", () => {
    setup({ maxOut: 100 });
    const c = k.exports.open(0n);
    const big = Buffer.from(GET("/hello").repeat(5000), "latin1");
    const took = feed(c, big);
    expect(took).toBeLessThan(big.length);
    expect(took).toBeGreaterThan(60000);
    // Only the few bytes the parser took since are accepted; then nothing.
    const more = feed(c, big.subarray(took));
    expect(more).toBeLessThan(100);
    expect(feed(c, big.subarray(took + more))).toBe(0);
    // Draining the output lets every buffered request be answered, none lost.
    const parts: Buffer[] = [];
    for (let b = take(c); b.length > 0; b = take(c)) parts.push(b);
    expect(responses(Buffer.concat(parts)).length).toBe(Math.floor((took + more) / GET("/hello").length));
  });

  it("sends 100 Continue to a client that expects it, then the response", () => {
    const c = k.exports.open(0n);
    feed(c, "PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    expect(take(c).toString()).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    feed(c, "data");
    expect(responses(take(c))[0].body.toString()).toBe("data");
    // The whole request at once: no interim response needed.
    feed(c, "PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok");
    const rs = responses(take(c));
    expect(rs.map((r) => r.status)).toEqual([200]);
    expect(one(c, GET("/hello", "Expect: teapot\r\n")).status).toBe(417);
  });
});

describe("message bodies (RFC 9112 §6, §7)", () => {
  it("decodes a chunked request with extensions and trailers, split anywhere", () => {
    const req = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Type: text/x\r\n\r\n" +
      "5;name=val\r\nhello\r\n1\r\n \r\nA \r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n";
    for (const step of [req.length, 1, 4]) {
      setup();
      const c = k.exports.open(0n);
      const bytes = Buffer.from(req, "latin1");
      for (let off = 0; off < bytes.length; off += step) feed(c, bytes.subarray(off, off + step));
      const r = responses(take(c))[0];
      expect(r.body.toString()).toBe("hello 0123456789");
      expect(r.headers.get("x-chunked")).toBe("1");
      expect(r.headers.get("content-type")).toBe("text/x");
    }
  });

  it("sends a chunked response to HTTP/1.1 and Content-Length to HTTP/1.0", () => {
    const c = k.exports.open(0n);
    const r = one(c, GET("/big"));
    expect(r.headers.get("transfer-encoding")).toBe("chunked");
    expect(r.headers.has("content-length")).toBe(false);
    expect(r.body.length).toBe(40000);
    expect(r.body.toString().slice(0, 28)).toBe("abcdefghijklmnopqrstuvwxyzab");
    const r0 = one(k.exports.open(0n), "GET /big HTTP/1.0\r\n\r\n");
    expect(r0.headers.get("content-length")).toBe("40000");
    expect(r0.body.length).toBe(40000);
  });

  it("accepts identical repeated Content-Length values", () => {
    const c = k.exports.open(0n);
    expect(one(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nab").body.toString()).toBe("ab");
  });
});

describe("limits and malformed requests → status codes", () => {
  const cases: [string, Opts, string, number][] = [
    ["414 for a long request line", { rl: 100 }, GET("/" + "a".repeat(200)), 414],
    ["431 for a long header line", { hl: 100 }, GET("/hello", "X-Long: " + "b".repeat(200) + "\r\n"), 431],
    ["431 for too many header fields", { hn: 5 }, GET("/hello", "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n"), 431],
    ["431 for a large header section", { hb: 300 }, GET("/hello", ("X-H: " + "c".repeat(50) + "\r\n").repeat(6)), 431],
    ["413 for a Content-Length over the limit", { body: 10 }, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n", 413],
    ["413 for a huge Content-Length", {}, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413],
    ["413 for chunked content over the limit", { body: 10 }, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n", 413],
    ["413 for a huge chunk size", {}, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n", 413],
    ["411 for POST without a length when required", { reqLen: true }, "POST /echo HTTP/1.1\r\nHost: t\r\n\r\n", 411],
    ["400 without Host in HTTP/1.1", {}, "GET /hello HTTP/1.1\r\n\r\n", 400],
    ["400 for two Host fields", {}, "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["400 for a non-numeric Content-Length", {}, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n", 400],
    ["400 for differing Content-Lengths", {}, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400],
    ["400 for Content-Length with Transfer-Encoding", {}, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["400 when chunked is not the final coding", {}, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400],
    ["501 for an unsupported transfer coding", {}, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501],
    ["400 for Transfer-Encoding in HTTP/1.0", {}, "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["400 for obs-fold", {}, GET("/hello", "X-A: 1\r\n  continued\r\n"), 400],
    ["400 for whitespace before the colon", {}, GET("/hello", "X-A : 1\r\n"), 400],
    ["400 for a bare CR", {}, "GET /hello HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 400],
    ["400 for a NUL in a header value", {}, GET("/hello", "X-A: a\u0000b\r\n"), 400],
    ["400 for a malformed chunk size", {}, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400],
    ["400 for chunk data without CRLF", {}, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY", 400],
    ["400 for a malformed version", {}, "GET /hello HTTP/1\r\nHost: t\r\n\r\n", 400],
    ["400 for a lowercase version", {}, "GET /hello http/1.1\r\nHost: t\r\n\r\n", 400],
    ["400 for two spaces in the request line", {}, "GET  /hello HTTP/1.1\r\nHost: t\r\n\r\n", 400],
    ["400 for a fragment in the target", {}, "GET /hello#x HTTP/1.1\r\nHost: t\r\n\r\n", 400],
    ["400 for an authority-form target on GET", {}, "GET example.com:80 HTTP/1.1\r\nHost: t\r\n\r\n", 400],
  ];
  // Bad paths are the router's 400: the framing was fine, so the connection stays.
  const keep = new Set(["400 for a path with ..", "400 for a bad percent escape"]);
  cases.push(["400 for a path with ..", {}, GET("/files/a/%2e%2e/b"), 400], ["400 for a bad percent escape", {}, GET("/items/%zz"), 400]);
  for (const [name, opts, req, status] of cases) {
    it(name, () => {
      setup(opts);
      const c = k.exports.open(0n);
      feed(c, req);
      const rs = responses(take(c));
      expect(rs.map((r) => r.status)).toEqual([status]);
      const r = rs[0];
      expect(r.headers.get("content-type")).toBe("application/json");
      expect(JSON.parse(r.body.toString()).code).toBe(status);
      if (!keep.has(name)) {
        // Framing errors close the connection; later bytes are discarded.
        expect(r.headers.get("connection")).toBe("close");
        expect(k.exports.shouldClose(c)).toBe(1);
        feed(c, GET("/hello"));
        expect(take(c).length).toBe(0);
      } else {
        expect(k.exports.shouldClose(c)).toBe(0);
      }
    });
  }

  it("404 for unknown paths, 405 with Allow for a wrong method, literal beats parameter", () => {
    const c = k.exports.open(0n);
    expect(one(c, GET("/nope")).status).toBe(404);
    expect(one(c, GET("/items/")).status).toBe(404);   // parameters are never empty
    const r = one(c, "PUT /items/3 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("GET, DELETE, HEAD, OPTIONS");
    expect(one(c, GET("/items/special")).body.toString()).toBe("hello");
    expect(JSON.parse(one(c, GET("/items/%C3%A9t%C3%A9")).body.toString()).id).toBe("été");
    expect(JSON.parse(one(c, GET("/items/%FF")).body.toString()).id).toBe("\uFFFD");
    expect(k.exports.shouldClose(c)).toBe(0);
  });

  it("matches paths without escapes in place, as a decoded split would", () => {
    const c = k.exports.open(0n);
    const body = (p: string) => one(c, GET(p)).body.toString();
    expect(body("/files/a/b/c.txt")).toBe("file:a/b/c.txt");        // {path...} takes the rest
    expect(body("/files/a//b")).toBe("file:a//b");                   // an empty segment inside it stays
    expect(body("/files/x")).toBe("file:x");
    expect(body("/files/a%2Fb/c")).toBe("file:a/b/c");               // with an escape: decoded, as before
    expect(JSON.parse(body("/items/42")).id).toBe("42");
    expect(one(c, GET("/files/a/../b")).status).toBe(400);           // dot segments refused unescaped too
    expect(one(c, GET("/files/./b")).status).toBe(400);
    expect(one(c, GET("/files/..")).status).toBe(400);
    expect(one(c, GET("/files/..a")).status).toBe(200);              // only whole "." and ".." segments
    expect(one(c, GET("/items/7/")).status).toBe(404);               // one segment too many
    expect(one(c, GET("/hello/")).status).toBe(404);
    expect(one(c, GET("/hell")).status).toBe(404);
    expect(one(c, GET("/helloo")).status).toBe(404);
    expect(body("/hello")).toBe("hello");
  });

  it("writes Latin-1 text byte for byte, '?' for what is beyond it, at any position", () => {
    for (const text of ["", "a", "abc", "abcd", "abcdefgh", "Date: x\r\n", "caf\u00e9s and cr\u00e8me", "\u20ac", "abcd\u20acefg", "abcdefg\u0100", "\u00ff\u00ff\u00ff\u00ff\u00ff"]) {
      const want = Buffer.from([...text].map((ch) => (ch.charCodeAt(0) > 0xff ? 0x3f : ch.charCodeAt(0))));
      const p = s(text);
      expect(buffer(k.exports.latin1Bytes(p))).toEqual(want);
      k.exports.__unpin(p);
    }
  });

  it("503 when the connection limit is reached, and a slot frees on close", () => {
    setup({ maxConn: 2 });
    const a = k.exports.open(0n), b = k.exports.open(0n);
    const c = k.exports.open(0n);
    const r = responses(take(c));
    expect(r.map((x) => x.status)).toEqual([503]);
    expect(k.exports.shouldClose(c)).toBe(1);
    k.exports.close(c);
    expect(k.exports.active()).toBe(2);
    k.exports.close(a);
    k.exports.close(a);   // idempotent
    expect(k.exports.active()).toBe(1);
    const d = k.exports.open(0n);
    expect(one(d, GET("/hello")).status).toBe(200);
    void b;
    expect(k.exports.stat(s("rejected"))).toBe(1n);
  });
});

describe("slow clients and the connection table", () => {
  const A = 0x0a000202, B = 0x0a000203, C = 0x0a000204;
  const drops = () => str(k.exports.getDrops());
  const partial = (c: number, now: bigint) => feed(c, "GET /hello HTTP/1.1\r\nX-Slow: a", now);

  it("a peer at its cap loses its own oldest slow connection to its newcomer", () => {
    setup({ maxConn: 8 });                                      // per-peer cap: half, 4
    const a = [0, 1, 2, 3].map((i) => k.exports.openFrom(BigInt(i) * SEC, A));
    for (const c of a) partial(c, 4n * SEC);
    const b = k.exports.openFrom(4n * SEC, B);
    expect(k.exports.peerConnections(A)).toBe(4);
    const n = k.exports.openFrom(10n * SEC, A);
    expect(drops()).toBe(`${a[0]}:reset;`);                  // the one open longest, reset
    expect(k.exports.shouldClose(a[0])).toBe(1);
    expect(take(a[0]).length).toBe(0);                        // nothing is sent to it
    expect(k.exports.peerConnections(A)).toBe(4);
    expect(k.exports.active()).toBe(5);
    expect(one(n, GET("/hello"), 10n * SEC).status).toBe(200);
    expect(one(b, GET("/hello"), 10n * SEC).status).toBe(200);  // another peer is untouched
    expect(k.exports.stat(s("evictedPeerHeaders"))).toBe(1n);
    expect(k.exports.stat(s("rejected"))).toBe(0n);
  });

  it("a full table evicts an idle kept-alive connection first, then the slow one open longest", () => {
    setup({ maxConn: 4 });
    k.exports.setPerPeer(4);
    const slow1 = k.exports.openFrom(0n, A);
    const slow2 = k.exports.openFrom(1n * SEC, B);
    const idle = k.exports.openFrom(2n * SEC, C);
    const busy = k.exports.openFrom(2n * SEC, C);
    partial(slow1, 3n * SEC); partial(slow2, 3n * SEC);
    expect(one(idle, GET("/hello"), 3n * SEC).status).toBe(200);
    feed(busy, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc", 3n * SEC);   // a body on its way
    expect(k.exports.budgetUsed()).toBe(10n);
    const n1 = k.exports.openFrom(5n * SEC, 0x0a000205);
    expect(drops()).toBe(`${idle}:close;`);                   // idle: a normal close
    const n2 = k.exports.openFrom(5n * SEC, 0x0a000206);
    expect(drops()).toBe(`${slow1}:reset;`);
    const n3 = k.exports.openFrom(5n * SEC, 0x0a000207);
    expect(drops()).toBe(`${slow2}:reset;`);
    // Left: the busy upload and three newcomers younger than the grace: a fourth gets 503.
    const n4 = k.exports.openFrom(5n * SEC, 0x0a000208);
    expect(drops()).toBe("");
    expect(responses(take(n4)).map((r) => r.status)).toEqual([503]);
    expect(k.exports.stat(s("evictedFullIdle"))).toBe(1n);
    expect(k.exports.stat(s("evictedFullHeaders"))).toBe(2n);
    expect(k.exports.stat(s("rejected"))).toBe(1n);
    // A second later the newcomers, still silent, are fair game; the upload never is.
    const n5 = k.exports.openFrom(6n * SEC, 0x0a000209);
    expect(drops()).toBe(`${n1}:reset;`);
    feed(busy, "defghij", 6n * SEC);
    expect(responses(take(busy)).map((r) => r.status)).toEqual([200]);
    expect(k.exports.budgetUsed()).toBe(0n);
    for (const c of [n2, n3, n5]) expect(one(c, GET("/hello"), 6n * SEC).status).toBe(200);
    expect(k.exports.active()).toBe(4);
  });

  it("a connection whose body is charged is never evicted; its charge comes back when it ends", () => {
    setup({ maxConn: 2 });
    k.exports.setPerPeer(2);
    const up = k.exports.openFrom(0n, A);
    feed(up, "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n", 0n);
    const slow = k.exports.openFrom(0n, A);
    feed(slow, "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Le", 0n);
    expect(k.exports.budgetUsed()).toBe(100n);
    k.exports.openFrom(5n * SEC, A);
    expect(drops()).toBe(`${slow}:reset;`);
    expect(k.exports.stat(s("evictedPeerHeaders"))).toBe(1n);
    k.exports.close(up);
    expect(k.exports.budgetUsed()).toBe(0n);
  });

  it("a connection part-way through its headers may go at once; a silent one only after the grace", () => {
    setup({ maxConn: 2 });
    k.exports.setPerPeer(2);
    const quiet = k.exports.openFrom(0n, A);
    const talk = k.exports.openFrom(0n, A);
    partial(talk, 0n);
    k.exports.openFrom(100_000_000n, A);                       // 0.1 s later
    expect(drops()).toBe(`${talk}:reset;`);
    const r = k.exports.openFrom(200_000_000n, A);
    expect(drops()).toBe("");                                  // only silent ones left, all younger than 1 s
    expect(responses(take(r)).map((x) => x.status)).toEqual([503]);
    expect(k.exports.stat(s("peerRejected"))).toBe(1n);
    k.exports.openFrom(SEC, A);
    expect(drops()).toBe(`${quiet}:reset;`);
  });

  it("a newcomer from an address with fewer connections may evict another address's silent ones at once", () => {
    setup({ maxConn: 4 });
    k.exports.setPerPeer(4);
    const b = [0, 1, 2].map(() => k.exports.openFrom(0n, B));   // silent, younger than the grace
    const a = k.exports.openFrom(0n, A);
    const r = k.exports.openFrom(100_000_000n, A);                 // A holds 1, B 3: B's oldest goes
    expect(drops()).toBe(`${b[0]}:reset;`);
    expect(one(r, GET("/hello"), 100_000_000n).status).toBe(200);
    k.exports.close(r);
    k.exports.openFrom(200_000_000n, B);                           // a free slot
    const r3 = k.exports.openFrom(300_000_000n, B);               // B holds 3, A 1: the grace holds for both
    expect(drops()).toBe("");
    expect(responses(take(r3)).map((x) => x.status)).toEqual([503]);
    void a;
  });

  it("shortens the idle and header timeouts while the table is more than 75% full", () => {
    setup({ maxConn: 4 });
    k.exports.setPerPeer(4);
    const c = [0, 1, 2].map(() => k.exports.openFrom(0n, A));
    partial(c[0], 1n * SEC);
    // 3 of 4 open: not under pressure; 30 s header and idle timeouts.
    expect(k.exports.poll(c[0], 7n * SEC)).toBe(31n * SEC);
    expect(k.exports.poll(c[1], 7n * SEC)).toBe(30n * SEC);
    const d = k.exports.openFrom(7n * SEC, A);
    // 4 of 4: 5 s each.
    expect(k.exports.poll(c[0], 7n * SEC)).toBe(0n);
    expect(responses(take(c[0])).map((r) => r.status)).toEqual([408]);
    expect(k.exports.poll(c[1], 7n * SEC)).toBe(0n);          // silent since 0 s
    expect(take(c[1]).length).toBe(0);
    expect(k.exports.poll(d, 7n * SEC)).toBe(12n * SEC);
    expect(k.exports.stat(s("headerTimeouts"))).toBe(1n);
    expect(k.exports.stat(s("idleTimeouts"))).toBe(1n);
    expect(k.exports.stat(s("pressureTimeouts"))).toBe(2n);
    k.exports.close(c[0]); k.exports.close(c[1]);
    expect(k.exports.poll(c[2], 8n * SEC)).toBe(30n * SEC);   // pressure over
  });

  it("the header timeout ends a slowloris that keeps the idle timer fresh", () => {
    setup({ idle: 10n * SEC, reqT: 600n * SEC });
    const c = k.exports.openFrom(0n, A);
    let t = 0n;
    feed(c, "GET /hello HTTP/1.1\r\n", t);
    while (k.exports.poll(c, t) !== 0n && t < 100n * SEC) { t += 5n * SEC; feed(c, "X-A: b\r\n", t); }
    expect(t).toBe(30n * SEC);
    expect(responses(take(c)).map((r) => r.status)).toEqual([408]);
    expect(k.exports.stat(s("headerTimeouts"))).toBe(1n);
    expect(k.exports.stat(s("pressureTimeouts"))).toBe(0n);
  });
});

describe("repeated wrong credentials from one peer are slowed down (virtual clock)", () => {
  const A = 0x0a000202, B = 0x0a000203;
  const bump = (auth: string | null) =>
    `POST /bump HTTP/1.1\r\nHost: t\r\n${auth === null ? "" : `Authorization: ${auth}\r\n`}Content-Length: 0\r\n\r\n`;
  const WRONG = "Bearer wrong-token", RIGHT = "Bearer s3cret-token";
  const ts = (n: string) => k.exports.throttleStat(s(n));

  it("10 wrong tokens within a minute block the peer: 429 with Retry-After, for 1 s, then 2 s, 4 s ...", () => {
    setup({ maxConn: 64 });
    const a = k.exports.openFrom(0n, A), b = k.exports.openFrom(0n, B);
    // No credentials at all is the ordinary challenge: not counted.
    for (let i = 0; i < 20; i++) expect(one(a, bump(null), 1n * SEC).status).toBe(401);
    for (let i = 0; i < 10; i++) expect(one(a, bump(WRONG), 2n * SEC).status).toBe(401);
    let r = one(a, bump(WRONG), 2n * SEC);
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("1");
    expect(one(a, bump(RIGHT), 2n * SEC + SEC / 2n).status).toBe(429);   // not even looked at
    expect(one(a, GET("/hello"), 2n * SEC).status).toBe(200);              // routes without the token are open
    expect(one(b, bump(RIGHT), 2n * SEC).status).toBe(200);                // another peer is not affected
    expect(k.exports.bumps()).toBe(1);
    // The block is over; the next wrong token blocks again, twice as long.
    expect(one(a, bump(WRONG), 3n * SEC).status).toBe(401);
    r = one(a, bump(null), 3n * SEC);
    expect([r.status, r.headers.get("retry-after")]).toEqual([429, "2"]);
    expect(one(a, bump(WRONG), 5n * SEC).status).toBe(401);
    r = one(a, bump(WRONG), 5n * SEC);
    expect([r.status, r.headers.get("retry-after")]).toEqual([429, "4"]);
    expect(one(a, bump(WRONG), 9n * SEC).status).toBe(401);
    expect(one(a, bump(WRONG), 9n * SEC).headers.get("retry-after")).toBe("8");
    expect(ts("blocks")).toBe(4n);
    expect(ts("throttled")).toBe(5n);
    // After the block and a quiet minute the peer starts afresh: 10 more tries.
    for (let i = 0; i < 10; i++) expect(one(a, bump(WRONG), 90n * SEC).status).toBe(401);
    expect(one(a, bump(WRONG), 90n * SEC).status).toBe(429);
    // The right token, once the block is over, forgets the peer.
    expect(one(a, bump(RIGHT), 92n * SEC).status).toBe(200);
    expect(ts("size")).toBe(0n);
    expect(one(a, bump(WRONG), 92n * SEC).status).toBe(401);
    expect(one(a, bump(WRONG), 92n * SEC).status).toBe(401);
    expect(k.exports.failures()).toBeGreaterThan(0n);
  });

  it("failures spread over more than a window never block; peer 0 (unknown) is never throttled", () => {
    setup({ maxConn: 64 });
    const a = k.exports.openFrom(0n, A);
    for (let i = 0; i < 30; i++) expect(one(a, bump(WRONG), BigInt(i) * 7n * SEC).status).toBe(401);
    const z = k.exports.open(0n);
    for (let i = 0; i < 30; i++) expect(one(z, bump(WRONG), 1n * SEC).status).toBe(401);
    expect(ts("blocks")).toBe(0n);
  });

  it("the table of peers is bounded: many addresses push out the least recently seen, not a blocked peer", () => {
    setup({ maxConn: 512 });
    k.exports.setThrottleCapacity(8);
    const a = k.exports.openFrom(0n, A);
    for (let i = 0; i < 10; i++) one(a, bump(WRONG), 1n * SEC);
    expect(one(a, bump(WRONG), 1n * SEC).status).toBe(429);
    for (let p = 0; p < 200; p++) {
      const c = k.exports.openFrom(1n * SEC, 0x0b000000 + p);
      expect(one(c, bump(WRONG), 1n * SEC).status).toBe(401);
      k.exports.close(c);
    }
    expect(ts("size")).toBe(8n);
    expect(ts("dropped")).toBe(193n);
    expect(one(a, bump(WRONG), 1n * SEC).status).toBe(429);           // still blocked
  });
});

describe("timeouts on a fake clock", () => {
  it("closes an idle connection silently and reports the deadline", () => {
    setup({ idle: 10n * SEC });
    const c = k.exports.open(5n * SEC);
    expect(k.exports.poll(c, 5n * SEC)).toBe(15n * SEC);
    expect(k.exports.poll(c, 15n * SEC - 1n)).toBe(15n * SEC);
    expect(k.exports.shouldClose(c)).toBe(0);
    expect(k.exports.poll(c, 15n * SEC)).toBe(0n);
    expect(take(c).length).toBe(0);
    expect(k.exports.shouldClose(c)).toBe(1);
  });

  it("restarts the idle timer on traffic (keep-alive between requests)", () => {
    setup({ idle: 10n * SEC });
    const c = k.exports.open(0n);
    one(c, GET("/hello"), 8n * SEC);
    expect(k.exports.poll(c, 12n * SEC)).toBe(18n * SEC);
    expect(k.exports.shouldClose(c)).toBe(0);
  });

  it("answers 408 when a started request goes idle", () => {
    setup({ idle: 10n * SEC });
    const c = k.exports.open(0n);
    feed(c, "GET /hello HTTP/1.1\r\nHo", 1n * SEC);
    expect(k.exports.poll(c, 11n * SEC)).toBe(0n);
    const rs = responses(take(c));
    expect(rs.map((r) => r.status)).toEqual([408]);
    expect(k.exports.shouldClose(c)).toBe(1);
    expect(k.exports.stat(s("timeouts"))).toBe(1n);
  });

  it("answers 408 to a client that trickles one byte at a time (slowloris)", () => {
    setup({ idle: 10n * SEC, reqT: 30n * SEC });
    const c = k.exports.open(0n);
    const req = GET("/hello", "X-Slow: " + "z".repeat(100) + "\r\n");
    let t = 0n, i = 0;
    while (i < req.length) {
      feed(c, req[i++], t);
      t += 5n * SEC;
      if (k.exports.poll(c, t) === 0n) break;
    }
    expect(i).toBeLessThan(req.length);
    expect(t).toBeLessThanOrEqual(35n * SEC);
    expect(responses(take(c)).map((r) => r.status)).toEqual([408]);
    expect(k.exports.shouldClose(c)).toBe(1);
  });

  it("treats a peer's FIN mid-request as the end of the connection", () => {
    const c = k.exports.open(0n);
    feed(c, "GET /hel");
    k.exports.peerClosed(c, 0n);
    expect(take(c).length).toBe(0);
    expect(k.exports.shouldClose(c)).toBe(1);
  });

  it("tells the observer each request's route, status and duration from its first byte", () => {
    const c = k.exports.open(0n);
    feed(c, "GET /items/9 HTTP/1.1\r\n", 1n * SEC);
    feed(c, "Host: t\r\n\r\n", 3n * SEC);
    feed(c, GET("/nope"), 4n * SEC);
    take(c);
    expect(str(k.exports.getCompletions())).toBe("GET /items/{id} 200 2000000000;GET  404 0;");
  });
});

describe("bearer token and read-only mode", () => {
  const bump = (auth = "") => `POST /bump HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n${auth}\r\n`;
  it("refuses a state change without a token (401) and leaves state unchanged", () => {
    const c = k.exports.open(0n);
    const r = one(c, bump());
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe('Bearer realm="skiff"');
    expect(k.exports.bumps()).toBe(0);
    const r2 = one(c, bump("Authorization: Bearer s3cret-tokeX\r\n"));
    expect(r2.status).toBe(401);
    expect(r2.headers.get("www-authenticate")).toMatch(/invalid_token/);
    expect(r2.body.toString()).not.toMatch(/s3cret/);
    expect(one(c, bump("Authorization: Basic czNjcmV0\r\n")).status).toBe(401);
    expect(k.exports.bumps()).toBe(0);
    expect(k.exports.failures()).toBe(3n);
    expect(str(k.exports.getRefusals())).toBe("POST /bump 401 #1;POST /bump 401 #2;POST /bump 401 #3;");
    expect(one(c, `DELETE /items/1 HTTP/1.1\r\nHost: t\r\n\r\n`).status).toBe(401);
    expect(k.exports.bumps()).toBe(0);
  });

  it("accepts the right token (scheme is case-insensitive) and reads need none", () => {
    const c = k.exports.open(0n);
    expect(one(c, bump("Authorization: bearer s3cret-token\r\n")).status).toBe(200);
    expect(k.exports.bumps()).toBe(1);
    expect(one(c, GET("/items/1")).status).toBe(200);
    expect(k.exports.failures()).toBe(0n);
  });

  it("refuses every state change with 403 in read-only mode", () => {
    k.exports.setReadOnly(1);
    const c = k.exports.open(0n);
    const r = one(c, bump("Authorization: Bearer s3cret-token\r\n"));
    expect(r.status).toBe(403);
    expect(k.exports.bumps()).toBe(0);
    expect(one(c, GET("/hello")).status).toBe(200);
  });
});

describe("fuzz", () => {
  it("never aborts on random or mutated requests; output is always well-formed HTTP", () => {
    let seed = 0xc0ffee;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const seeds = [
      GET("/items/1?q=x"), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
      "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n",
      "PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nZ",
    ];
    const alphabet = " \r\n:/?%#;,\t\u0000\u007f\u00ff0123456789abcdefGHPTOST-.HTTP/1.1chunkedContent-LengthHost";
    setup({ body: 4096, hb: 2048, hn: 20 });
    let answered = 0;
    for (let trial = 0; trial < 1500; trial++) {
      const base = seeds[rnd(seeds.length)] + seeds[rnd(seeds.length)];
      const chars = [...base];
      const muts = trial % 5 === 0 ? 0 : 1 + rnd(4);
      for (let m = 0; m < muts; m++) {
        const at = rnd(chars.length + 1), op = rnd(4);
        if (op === 0) chars.splice(at, 1 + rnd(3));
        else if (op === 1) chars.splice(at, 0, alphabet[rnd(alphabet.length)]);
        else if (op === 2) chars[at] = alphabet[rnd(alphabet.length)];
        else chars.splice(at, 0, ...Array.from({ length: rnd(40) }, () => String.fromCharCode(rnd(256))));
      }
      const bytes = Buffer.from(chars.join(""), "latin1");
      const c = k.exports.open(BigInt(trial) * SEC);
      const step = 1 + rnd(bytes.length + 1);
      const out: Buffer[] = [];
      for (let off = 0; off < bytes.length && !k.exports.shouldClose(c); off += step) {
        feed(c, bytes.subarray(off, off + step), BigInt(trial) * SEC);
        out.push(take(c));
      }
      k.exports.poll(c, BigInt(trial + 1000) * SEC);
      out.push(take(c));
      const all = Buffer.concat(out);
      const rs = responses(all, new Set());   // throws on any malformed output
      answered += rs.length;
      for (const r of rs) expect(r.status).toBeGreaterThanOrEqual(100);
      // Parser invariants on the same bytes.
      const p = k.bytesIn(bytes);
      const v = str(k.exports.parseOnly(p, 1 + rnd(9)));
      k.exports.__unpin(p);
      expect(v).toMatch(/^\d \d+ \d+$/);
      k.exports.close(c);
      if (trial % 200 === 0) k.exports.__collect();
    }
    expect(answered).toBeGreaterThan(1500);
    expect(k.exports.active()).toBe(0);
  });
});

describe("the parser's byte search (eight bytes per step)", () => {
  it("finds the first occurrence at every position and length, and none where there is none", () => {
    let seed = 7;
    const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 24; };
    for (let round = 0; round < 40; round++) {
      // Bytes near the one sought (0x0a): 0x0b, 0x8a, 0x01, 0x00, 0x09 and 0x0a itself, sparse.
      const near = [0x0b, 0x8a, 0x01, 0x00, 0x09, 0x0d, 0x0a];
      const buf = Buffer.from(Array.from({ length: 48 }, () => (rnd() < 200 ? near[rnd() % 6] : near[rnd() % 7])));
      const p = k.bytesIn(buf);
      for (const b of [0x0a, 0x0d]) {
        for (let from = 0; from < 10; from++) {
          for (let to = from; to <= buf.length; to++) {
            const i = buf.subarray(from, to).indexOf(b);
            expect(k.exports.findByteIn(p, from, to, b), `round ${round} from ${from} to ${to}`).toBe(i < 0 ? to : from + i);
          }
        }
      }
      k.exports.__unpin(p);
    }
  });
});

