// test/unit/httpclient.test.ts — the HTTP client's response parser
// (kernel/lib/http/respparser.ts) on responses written from RFC 9112: framing by
// Content-Length, chunked (extensions, trailers), connection close, HEAD/204/
// 304, interim 1xx, keep-alive rules, every error with its sentence, limits;
// each fed whole and one byte at a time; 3000 mutated responses; URL splitting.
import { beforeAll, describe, expect, it } from "vitest";
import { loadKernel, KernelModule } from "../platform/wasm.js";
import { FakeHost } from "../platform/host.js";
import { rng } from "./net-lib.js";

type Exports = {
  memory: WebAssembly.Memory;
  newParser(head: number, maxBody: bigint, maxHeaderBytes: number, maxHeaders: number): void;
  feed(p: number, len: number): number;
  eof(): void;
  state(): number;
  describe(): number;
  url(s: number): number;
  __new(n: number, id: number): number; __pin(p: number): number; __collect(): void;
};

let k: KernelModule<Exports>;
let x: Exports;
beforeAll(async () => { k = await loadKernel<Exports>("test/unit/wasm/httpclient.ts", new FakeHost()); x = k.exports; });

const str = (v: string) => {
  const p = x.__pin(x.__new(v.length * 2, 2));
  new Uint8Array(x.memory.buffer).set(Buffer.from(v, "utf16le"), p);
  return p;
};

interface View { state: number; status: number; reason: string; minor: number; headers: [string, string][]; body: string;
  bodyBytes: number; error: string; keepAlive: boolean; chunked: boolean; closeDelimited: boolean }
const DONE = 8, ERROR = 9;

/** Parses text (whole, or bytewise); eof after it if asked. Returns the view and the bytes used. */
function run(text: string | Buffer, o: { head?: boolean; maxBody?: number; bytewise?: boolean; eof?: boolean; maxHeaderBytes?: number; maxHeaders?: number } = {}): View & { used: number } {
  x.newParser(o.head ? 1 : 0, BigInt(o.maxBody ?? 1 << 20), o.maxHeaderBytes ?? 0, o.maxHeaders ?? 0);
  const b = Buffer.isBuffer(text) ? text : Buffer.from(text, "latin1");
  let used = 0;
  if (o.bytewise) {
    for (let i = 0; i < b.length; i++) {
      const n = x.feed(k.bytesIn(b.subarray(i, i + 1)), 1);
      used += n;
      if (n === 0) break;
    }
  } else used = x.feed(k.bytesIn(b), b.length);
  if (o.eof) x.eof();
  const v = JSON.parse(k.str(x.describe())) as View;
  return { ...v, used };
}

/** Both ways must agree. */
function both(text: string, o: Parameters<typeof run>[1] = {}) {
  const a = run(text, o), b = run(text, { ...o, bytewise: true });
  expect(b).toEqual(a);
  return a;
}

describe("framing (RFC 9112 §6.3)", () => {
  it("Content-Length", () => {
    const text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
    const r = both(text);
    expect(r).toMatchObject({ state: DONE, status: 200, reason: "OK", minor: 1, body: "hello", keepAlive: true, chunked: false, used: text.length });
    expect(r.headers).toEqual([["Content-Type", "text/plain"], ["Content-Length", "5"]]);
  });
  it("chunked, with extensions and trailers; stops at the end (pipelined bytes are not taken)", () => {
    const text = "HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" +
      "5;name=value\r\nhello\r\n1B\r\n, abcdefghijklmnopqrstuvwxy\r\n0\r\nX-Trailer: 1\r\n\r\n";
    const r = both(text + "HTTP/1.1 200");
    expect(r).toMatchObject({ state: DONE, status: 201, chunked: true, body: "hello, abcdefghijklmnopqrstuvwxy", bodyBytes: 32, keepAlive: true });
    expect(r.used).toBe(text.length);
  });
  it("no length: the body runs to the connection's end, which is then not reusable", () => {
    const r = both("HTTP/1.1 200 OK\r\n\r\nall of it", { eof: true });
    expect(r).toMatchObject({ state: DONE, body: "all of it", closeDelimited: true, keepAlive: false });
    expect(run("HTTP/1.1 200 OK\r\n\r\nall of it").state).toBe(7);       // still reading without the eof
  });
  it("HEAD, 204 and 304 have no body whatever the headers say; 1xx interim responses are skipped", () => {
    expect(both("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", { head: true })).toMatchObject({ state: DONE, body: "", keepAlive: true });
    expect(both("HTTP/1.1 204 No Content\r\n\r\n")).toMatchObject({ state: DONE, status: 204 });
    expect(both("HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n")).toMatchObject({ state: DONE, status: 304, body: "" });
    expect(both("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
      .toMatchObject({ state: DONE, status: 200, body: "ok", headers: [["Content-Length", "2"]] });
  });
  it("keep-alive: 1.1 unless Connection: close; 1.0 only with Connection: keep-alive; CL with TE never", () => {
    expect(both("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(false);
    expect(both("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")).toMatchObject({ minor: 0, keepAlive: false });
    expect(both("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(true);
    expect(both("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
      .toMatchObject({ state: DONE, body: "abc", keepAlive: false });
    // Bare LF line ends are accepted (RFC 9112 §2.2); repeated equal lengths too.
    expect(both("HTTP/1.1 200 OK\nContent-Length: 2, 2\n\nok")).toMatchObject({ state: DONE, body: "ok" });
  });
});

describe("errors, each with its sentence", () => {
  const cases: [string, string, Parameters<typeof run>[1]?][] = [
    ["HTTP/2 200 OK\r\n\r\n", "not an HTTP/1.x status line"],
    ["SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP/1.x status line"],
    ["HTTP/1.1 2x0 OK\r\n\r\n", "bad status code"],
    ["HTTP/1.1 099 Low\r\n\r\n", "bad status code"],
    ["HTTP/1.1 2000 OK\r\n\r\n", "bad status code"],
    ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "bad or conflicting Content-Length"],
    ["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad or conflicting Content-Length"],
    ["HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", "bad or conflicting Content-Length"],
    ["HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", "obsolete line folding in a header"],
    ["HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "header line without a name and colon"],
    ["HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "bad character in a header name"],
    ["HTTP/1.1 200 OK\r\nX: a\u0001b\r\n\r\n", "control character in a header value"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", "chunk data not followed by CRLF"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", "chunk size too large"],
    ["HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", "response body of 11 bytes is over the limit of 10", { maxBody: 10 }],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n", "response body larger than 10 bytes", { maxBody: 10 }],
    ["HTTP/1.1 200 OK\r\n\r\n01234567890", "response body larger than 10 bytes", { maxBody: 10 }],
    ["HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", "more than 2 header fields", { maxHeaders: 2 }],
    ["HTTP/1.1 200 OK\r\nA: " + "x".repeat(100) + "\r\n\r\n", "header section larger than 64 bytes", { maxHeaderBytes: 64 }],
    ["", "connection closed before a response", { eof: true }],
    ["HTTP/1.1 200 OK\r\nContent-Le", "connection closed inside the response header", { eof: true }],
    ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "connection closed after 3 of 10 body bytes", { eof: true }],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "connection closed inside the chunked body after 2 bytes", { eof: true }],
  ];
  for (const [text, error, o] of cases) {
    it(error + ": " + JSON.stringify(text.slice(0, 40)), () => {
      const r = both(text, o ?? {});
      expect(r.state).toBe(ERROR);
      expect(r.error).toBe(error);
      expect(r.keepAlive).toBe(false);
    });
  }
});

describe("robustness", () => {
  it("3000 mutated and randomly split responses: never a trap, always DONE or ERROR after eof", () => {
    const seeds = [
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
      "HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\nbody",
    ].map((s) => Buffer.from(s, "latin1"));
    const r = rng(9112);
    const tally = [0, 0];
    for (let i = 0; i < 3000; i++) {
      let b = Buffer.from(seeds[i % seeds.length]);
      const flips = Math.floor(r() * 5);
      for (let f = 0; f < flips; f++) b[Math.floor(r() * b.length)] = [0x0d, 0x0a, 0x3a, 0x20, 0x30, 0x3b][Math.floor(r() * 6)] ?? 0;
      if (r() < 0.3) b = b.subarray(0, Math.floor(r() * b.length));
      x.newParser(0, 1n << 20n, 0, 0);
      let off = 0;
      while (off < b.length) {
        const n = Math.min(b.length - off, 1 + Math.floor(r() * 8));
        const used = x.feed(k.bytesIn(b.subarray(off, off + n)), n);
        if (used < n) break;
        off += n;
      }
      x.eof();
      const st = x.state();
      expect([DONE, ERROR]).toContain(st);
      tally[st === DONE ? 0 : 1]++;
      if (i % 500 === 0) x.__collect();
    }
    expect(tally[0]).toBeGreaterThan(100);
    expect(tally[1]).toBeGreaterThan(100);
  });
});

describe("URLs", () => {
  const u = (s: string) => JSON.parse(k.str(x.url(str(s))));
  it("splits http://host[:port][/path][?query], dropping the fragment", () => {
    expect(u("http://Example.TEST:8080/a/b?c=d#frag")).toEqual({ host: "example.test", port: 8080, target: "/a/b?c=d" });
    expect(u("http://10.0.2.2")).toEqual({ host: "10.0.2.2", port: 80, target: "/" });
    expect(u("HTTP://h.test?x=1")).toEqual({ host: "h.test", port: 80, target: "/?x=1" });
  });
  it("refuses what it cannot do, saying why", () => {
    expect(u("https://a.test/").error).toBe("https is not supported (no TLS): https://a.test/");
    expect(u("ftp://a.test/").error).toBe("not an http:// URL: ftp://a.test/");
    expect(u("http://a.test:0/").error).toBe("bad port in http://a.test:0/");
    expect(u("http://a.test:65536/").error).toBe("bad port in http://a.test:65536/");
    expect(u("http://a.test:/").error).toBe("bad port in http://a.test:/");
    expect(u("http://user:pw@a.test/").error).toMatch(/user:password@/);
    expect(u("http://[::1]/").error).toMatch(/IPv6/);
    expect(u("http://a..test/").error).toBe("bad host name in http://a..test/");
    expect(u("http://a.test/a b").error).toMatch(/percent-encoding/);
    expect(u("http://a.test/\r\nX: y").error).toMatch(/percent-encoding/);
  });
});
