// test/system/outbound.test.ts — calling other services from a guest
// (test/apps/outbound): the HTTP client against Node's HTTP server on the host,
// reached through QEMU user networking at 10.0.2.2 (methods, keep-alive reuse,
// a 10 MiB chunked body, a slow server, a server that closes mid-body, a
// refused port, a malformed response, the size limit, pooled connections the
// server closed — idle, and on the next request); then the DNS resolver
// against dnsmasq in a network namespace the test creates, with the guest on a
// tap device in it (A records, CNAME chains, the cache, NXDOMAIN), plus a tiny
// UDP responder there for SERVFAIL, malformed answers, a compression-pointer
// loop, a CNAME loop and silence (timeout); and HTTP and TCP by host name.
import { afterAll, describe, expect, it } from "vitest";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type Server } from "node:net";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { execa } from "execa";
import { boot, stopAll } from "../../harness/index.js";

afterAll(stopAll);

const BIG = 10 << 20;
const bigChunk = Buffer.from(Uint8Array.from({ length: 65536 }, (_, k) => (k * 31 + 7) & 255));

/** FNV-1a 32-bit, as the guest computes it over the body. */
function fnv(chunks: Buffer[]): number {
  let h = 0x811c9dc5;
  for (const c of chunks) for (const b of c) { h ^= b; h = Math.imul(h, 0x01000193) >>> 0; }
  return h >>> 0;
}

function listen(s: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  return new Promise((res) => s.listen(0, "127.0.0.1", () => res((s.address() as { port: number }).port)));
}

describe("HTTP client over QEMU user networking (Node's server on the host at 10.0.2.2)", () => {
  it("methods, keep-alive reuse, 10 MiB chunked, slow server, cut body, refused port, bad response, size limit, stale pooled connections", async () => {
    let connections = 0;
    const slowTimers: NodeJS.Timeout[] = [];
    const paths: string[] = [];
    const http = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      paths.push(req.url ?? "");
      const body: Buffer[] = [];
      req.on("data", (d) => body.push(d));
      req.on("end", () => {
        const text = Buffer.concat(body).toString();
        if (req.url === "/hello") {
          res.setHeader("X-Echo-Method", req.method ?? "");
          res.end(`hello ${req.method} ${text}`);
        } else if (req.url === "/headers") {
          const h = req.headers;
          res.end(`${h.host}|${h["user-agent"]}|${h["content-type"]}|${h["content-length"]}|${text.length}`);
        } else if (req.url === "/big") {
          // No Content-Length: Node sends Transfer-Encoding: chunked.
          let i = 0;
          const more = () => {
            while (i < BIG / bigChunk.length) { i++; if (!res.write(bigChunk)) { res.once("drain", more); return; } }
            res.end();
          };
          more();
        } else if (req.url === "/slow") {
          res.writeHead(200, { "Content-Length": "10" });
          res.write("12345");
          slowTimers.push(setTimeout(() => res.end("67890"), 60000));
        } else if (req.url === "/cut") {
          res.writeHead(200, { "Content-Length": "100000" });
          res.write(Buffer.alloc(1000, 0x61), () => setTimeout(() => res.socket?.destroy(), 200));
        } else {
          res.statusCode = 404;
          res.end("not here");
        }
      });
    });
    http.on("connection", () => connections++);
    http.keepAliveTimeout = 60000;
    const port = await listen(http);
    // Not HTTP at all: a status line with a bad code.
    const raw = createTcpServer((s) => { s.on("data", () => s.end("HTTP/1.1 2x0 OK\r\n\r\n")); s.on("error", () => {}); });
    const rawPort = await listen(raw);
    // Keeps connections alive, but drops each one when its second request arrives, unanswered.
    let flakyConnections = 0;
    const flaky = createTcpServer((s) => {
      flakyConnections++;
      let requests = 0, buf = "";
      s.on("data", (d) => {
        buf += d.toString("latin1");
        while (buf.includes("\r\n\r\n")) {
          const head = buf.slice(0, buf.indexOf("\r\n\r\n"));
          const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < head.length + 4 + len) break;
          buf = buf.slice(head.length + 4 + len);
          if (++requests === 2) { s.destroy(); return; }
          s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
      });
      s.on("error", () => {});
    });
    const flakyPort = await listen(flaky);
    // Closes idle keep-alive connections after 1 s.
    const idle = createHttpServer((req, res) => res.end("fine"));
    idle.keepAliveTimeout = 1000;
    const idlePort = await listen(idle);
    const base = `http://10.0.2.2:${port}`;
    try {
      const steps = [
        `get=${base}/hello`, `post=${base}/hello`, `put=${base}/hello`, `delete=${base}/hello`, `get=${base}/missing`, `post=${base}/headers`,
        `get=${base}/big`, `stream=${base}/big`,
        `timeout=3000`, `get=${base}/slow`, `timeout=30000`,
        `get=${base}/cut`,
        `get=http://10.0.2.2:1/refused`,
        `get=http://10.0.2.2:${rawPort}/`,
        `limit=100000`, `get=${base}/big`, `limit=1000000`,
        `get=http://10.0.2.2:${flakyPort}/a`, `post=http://10.0.2.2:${flakyPort}/b`,
        `get=http://10.0.2.2:${flakyPort}/c`, `get=http://10.0.2.2:${flakyPort}/d`,
        `get=http://10.0.2.2:${idlePort}/x`, "pool", "sleep=3000", "pool", `get=http://10.0.2.2:${idlePort}/y`,
        `get=https://10.0.2.2/`, `get=${base}/inject`,
      ];
      const g = await boot({
        app: "test/apps/outbound", machine: "q35", memory: "128M", timeoutMs: 300000, net: "user",
        cmdline: `quiet ${steps.join(" ")}`,
      });
      await g.waitFor(/outbound: done/, 280000);
      const out = g.output;
      const line = (prefix: string) => {
        const l = out.split("\n").find((x) => x.startsWith(`outbound: ${prefix} `));
        expect(l, `no line for ${prefix} in:\n${out}`).toBeDefined();
        return l!;
      };
      expect(line(`get ${base}/hello`)).toMatch(/status 200 bytes 10 .*reused 0 method GET body hello GET $/);
      expect(line(`post ${base}/hello`)).toMatch(/status 200 bytes 27 .*reused 1 method POST body hello POST hello from skiff$/);
      expect(line(`put ${base}/hello`)).toMatch(/status 200 bytes 26 .*reused 1 method PUT body hello PUT hello from skiff$/);
      expect(line(`delete ${base}/hello`)).toMatch(/status 200 bytes 13 .*reused 1 method DELETE body hello DELETE $/);
      expect(line(`get ${base}/missing`)).toMatch(/status 404 bytes 8 .*body not here$/);
      expect(line(`post ${base}/headers`)).toMatch(new RegExp(`status 200 .* body 10\\.0\\.2\\.2:${port}\\|skiff\\|text/plain\\|16\\|16$`));
      // 10 MiB in Node's chunked encoding, byte for byte (hash over the same pattern).
      const expected = fnv(Array.from({ length: BIG / bigChunk.length }, () => bigChunk));
      expect(line(`get ${base}/big`)).toContain(`status 200 bytes ${BIG} fnv ${expected} reused 1`);
      expect(line(`stream ${base}/big`)).toBe(`outbound: stream ${base}/big status 200 bytes ${BIG} fnv ${expected} buffered 0`);
      expect(line(`get ${base}/slow`)).toMatch(/error 4 GET .*\/slow: timed out: no complete response within 3 s while waiting for 10\.0\.2\.2:\d+ \(5 body bytes so far\)/);
      expect(line(`get ${base}/cut`)).toMatch(/error 5 GET .*\/cut: connection closed early: .*connection closed after 1000 of 100000 body bytes/);
      expect(line("get http://10.0.2.2:1/refused")).toMatch(/error 3 .*connection refused by 10\.0\.2\.2:1/);
      expect(line(`get http://10.0.2.2:${rawPort}/`)).toMatch(/error 6 .*bad response: bad status code/);
      const limited = out.split("\n").filter((x) => x.startsWith(`outbound: get ${base}/big `))[1];
      expect(limited).toMatch(/error 7 .*response too large: response body larger than 100000 bytes/);
      // A pooled connection that the server drops on the next request: an idempotent
      // request is sent again on a new connection, a POST is not (it may have been acted on).
      const fl = `http://10.0.2.2:${flakyPort}`;
      expect(line(`get ${fl}/a`)).toMatch(/status 200 bytes 2 .*reused 0 body ok$/);
      expect(line(`post ${fl}/b`)).toMatch(/error 5 POST .*\/b: connection closed early: connection closed before a response/);
      expect(line(`get ${fl}/c`)).toMatch(/status 200 bytes 2 .*reused 0 body ok$/);
      expect(line(`get ${fl}/d`)).toMatch(/status 200 bytes 2 .*reused 0 body ok$/);
      expect(flakyConnections).toBe(3);
      // The idle server closes its keep-alive connection after 1 s: the pool notices and drops it.
      const pools = out.split("\n").filter((x) => x.startsWith("outbound: pool "));
      expect(pools[0]).toMatch(/^outbound: pool idle 2 /);
      expect(pools[1]).toMatch(/^outbound: pool idle 1 /);
      expect(line(`get http://10.0.2.2:${idlePort}/y`)).toMatch(/status 200 bytes 4 .*reused 0 body fine$/);
      expect(line(`get ${base}/inject`)).toMatch(/error 9 .*bad request: bad character in header X-Bad$/);
      expect(paths).not.toContain("/inject");
      expect(paths).toContain("/cut");
      expect(line("get https://10.0.2.2/")).toMatch(/error 1 .*https is not supported/);
      // Keep-alive: the first six requests and /slow shared one connection; /cut and the
      // limited /big needed new ones (the ones before ended badly and were not reused).
      expect(connections).toBeLessThanOrEqual(3);
      await g.stop();
    } finally {
      for (const t of slowTimers) clearTimeout(t);
      http.closeAllConnections();
      http.close();
      idle.closeAllConnections();
      idle.close();
      raw.close();
      flaky.close();
    }
  }, 320000);
});

// The namespace side: dnsmasq serves the names, a Node UDP responder at
// 10.79.0.3 misbehaves on purpose, Node serves HTTP and a TCP "pong"; no one
// answers at 10.79.0.99 (the connect timeout).
const canTap = process.getuid?.() === 0 && existsSync("/dev/net/tun");
const haveDnsmasq = (() => { try { execFileSync("dnsmasq", ["--version"], { stdio: "ignore" }); return true; } catch { return false; } })();
const sh = (...a: string[]) => execFileSync(a[0], a.slice(1), { encoding: "utf8", timeout: 60000 });

const PEER = `
import dgram from "node:dgram"; import http from "node:http"; import net from "node:net";
const u = dgram.createSocket("udp4");
u.on("message", (m, r) => {
  if (m.length < 12) return;
  const id = m.readUInt16BE(0);
  let p = 12; const labels = [];
  while (p < m.length && m[p]) { labels.push(m.subarray(p + 1, p + 1 + m[p]).toString()); p += 1 + m[p]; }
  p += 5;
  const q = m.subarray(12, p), name = labels.join(".").toLowerCase();
  const hdr = (flags, an) => { const h = Buffer.alloc(12); h.writeUInt16BE(id, 0); h.writeUInt16BE(flags, 2); h.writeUInt16BE(1, 4); h.writeUInt16BE(an, 6); return h; };
  const send = (...b) => u.send(Buffer.concat(b), r.port, r.address);
  const a = (ttl, ip) => Buffer.from([0, 1, 0, 1, 0, 0, ttl >> 8, ttl & 255, 0, 4, ...ip]);
  if (name === "servfail.test") send(hdr(0x8182, 0), q);
  else if (name === "garbage.test") send(hdr(0x8180, 1), q, Buffer.from([0xc0]));
  else if (name === "loop.test") { const off = 12 + q.length; send(hdr(0x8180, 1), q, Buffer.from([0xc0 | (off >> 8), off & 255]), a(60, [10, 79, 0, 9])); }
  else if (name === "self.test") send(hdr(0x8180, 1), q, Buffer.from([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12]));
  else if (name === "silent.test") {}
  else send(hdr(0x8183, 0), q);
});
let ready = 0; const up = () => { if (++ready === 3) console.log("peer ready"); };
u.bind(53, "10.79.0.3", up);
http.createServer((req, res) => res.end("hello from the namespace")).listen(8080, "10.79.0.1", up);
net.createServer((s) => { s.on("data", () => s.end("pong\\n")); s.on("error", () => {}); }).listen(7000, "10.79.0.1", up);
`;

describe.skipIf(!canTap || !haveDnsmasq)("DNS against dnsmasq in a network namespace (guest on a tap device)", () => {
  it("A, CNAME chain, cache, NXDOMAIN, SERVFAIL, malformed, pointer loop, CNAME loop, timeout; HTTP and TCP by name", async () => {
    const tag = `ob${process.pid % 100000}`;
    const tap = `${tag}t`, ns = `${tag}n`;
    const pidFile = `/tmp/${tag}-dnsmasq.pid`;
    const procs: ChildProcess[] = [];
    const dnsLog: string[] = [];
    sh("ip", "tuntap", "add", "dev", tap, "mode", "tap");
    try {
      const steps = [
        "waitudp=9999",
        "resolve=web.test", "resolve=web.test", "resolve=WEB.Test.", "resolve=alias2.test", "resolve=multi.test", "resolve=nosuch.test",
        "dnsat=10.79.0.3,servfail.test", "dnsat=10.79.0.3,garbage.test", "dnsat=10.79.0.3,loop.test", "dnsat=10.79.0.3,self.test",
        "dnsat=10.79.0.3,silent.test", "resolve=bad..name",
        "get=http://alias2.test:8080/hello", "connect=alias.test:7000", "get=http://nosuch.test:8080/", "connect=nosuch.test:7000",
        "ctimeout=2000", "get=http://10.79.0.99:8080/",
      ];
      const g = await boot({
        app: "test/apps/outbound", machine: "q35", memory: "64M", timeoutMs: 240000,
        net: "tap", tap, staticIp: { ip: "10.79.0.2/24", dns: "10.79.0.1" }, cmdline: `quiet ${steps.join(" ")}`,
      });
      await g.waitFor(/outbound: waiting on UDP 9999/, 60000);
      sh("ip", "netns", "add", ns);
      try {
        sh("ip", "link", "set", tap, "netns", ns);
        sh("ip", "-n", ns, "addr", "add", "10.79.0.1/24", "dev", tap);
        sh("ip", "-n", ns, "addr", "add", "10.79.0.3/24", "dev", tap);
        sh("ip", "-n", ns, "link", "set", tap, "up");
        sh("ip", "-n", ns, "link", "set", "lo", "up");
        const dnsmasq = spawn("ip", ["netns", "exec", ns, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--user=root",
          "--port=53", "--listen-address=10.79.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", "--local=/test/",
          "--host-record=web.test,10.79.0.1", "--host-record=multi.test,10.79.0.5", "--host-record=multi.test,10.79.0.6",
          "--cname=alias.test,web.test", "--cname=alias2.test,alias.test", "--local-ttl=30",
          "--log-queries", "--log-facility=-", `--pid-file=${pidFile}`], { stdio: ["ignore", "pipe", "pipe"] });
        procs.push(dnsmasq);
        dnsmasq.stdout!.on("data", (d) => dnsLog.push(d.toString()));
        dnsmasq.stderr!.on("data", (d) => dnsLog.push(d.toString()));
        const peer = spawn("ip", ["netns", "exec", ns, "node", "--input-type=module", "-e", PEER], { stdio: ["ignore", "pipe", "pipe"] });
        procs.push(peer);
        let peerOut = "";
        await new Promise<void>((res, rej) => {
          const t = setTimeout(() => rej(new Error(`namespace peer did not start: ${peerOut}`)), 30000);
          peer.stdout!.on("data", (d) => { peerOut += d; if (peerOut.includes("peer ready")) { clearTimeout(t); res(); } });
          peer.stderr!.on("data", (d) => { peerOut += d; });
        });
        // dnsmasq is up once it answers a query from inside the namespace.
        for (let i = 0; i < 50 && !dnsLog.join("").includes("started"); i++) await new Promise((r) => setTimeout(r, 100));
        await execa("ip", ["netns", "exec", ns, "node", "-e",
          `require("node:dgram").createSocket("udp4").send("go", 9999, "10.79.0.2", (e, n) => process.exit(e ? 1 : 0))`], { timeout: 30000 });
        await g.waitFor(/outbound: done/, 180000);
        const out = g.output;
        const lines = out.split("\n").filter((l) => l.startsWith("outbound: "));
        const find = (prefix: string) => {
          const all = lines.filter((l) => l.startsWith(`outbound: ${prefix} `));
          expect(all.length, `no line for ${prefix} in:\n${out}\ndnsmasq:\n${dnsLog.join("")}`).toBeGreaterThan(0);
          return all;
        };
        const web = find("resolve web.test");
        expect(web[0]).toBe("outbound: resolve web.test ok 10.79.0.1 canonical=web.test ttl=30 cached=0");
        expect(web[1]).toMatch(/^outbound: resolve web\.test ok 10\.79\.0\.1 canonical=web\.test ttl=(\d+) cached=1$/);
        expect(Number(/ttl=(\d+)/.exec(web[1])![1])).toBeLessThanOrEqual(30);
        expect(find("resolve WEB.Test.")[0]).toContain("ok 10.79.0.1 canonical=web.test");
        expect(find("resolve WEB.Test.")[0]).toContain("cached=1");
        expect(find("resolve alias2.test")[0]).toMatch(/ok 10\.79\.0\.1 canonical=web\.test ttl=\d+ cached=0/);
        const multi = find("resolve multi.test")[0];
        expect(multi).toMatch(/ok (10\.79\.0\.5,10\.79\.0\.6|10\.79\.0\.6,10\.79\.0\.5) /);
        expect(find("resolve nosuch.test")[0]).toMatch(/error 1 nosuch\.test: no such name \(NXDOMAIN\) from 10\.79\.0\.1/);
        expect(find("resolve servfail.test")[0]).toMatch(/error 2 servfail\.test: server failure \(SERVFAIL from 10\.79\.0\.3\)/);
        expect(find("resolve garbage.test")[0]).toMatch(/error 4 garbage\.test: malformed answer from 10\.79\.0\.3: truncated compression pointer/);
        expect(find("resolve loop.test")[0]).toMatch(/error 4 .*compression pointer does not point backwards/);
        expect(find("resolve self.test")[0]).toMatch(/error 9 self\.test: CNAME chain too long/);
        expect(find("resolve silent.test")[0]).toMatch(/error 3 silent\.test: timed out \(no answer from 10\.79\.0\.3 after 3 tries\)/);
        expect(find("resolve bad..name")[0]).toMatch(/error 6 bad\.\.name: not a valid host name/);
        expect(find("get http://alias2.test:8080/hello")[0]).toMatch(/status 200 bytes 24 .*body hello from the namespace$/);
        expect(find("connect alias.test:7000")[0]).toBe("outbound: connect alias.test:7000 got pong from 10.79.0.1");
        expect(find("get http://nosuch.test:8080/")[0]).toMatch(/error 2 .*name not resolved: nosuch\.test: no such name \(NXDOMAIN\)/);
        expect(find("connect nosuch.test:7000")[0]).toMatch(/failed nosuch\.test: no such name \(NXDOMAIN\)/);
        // Nobody owns 10.79.0.99: ARP goes unanswered and the connect timeout ends it.
        expect(find("get http://10.79.0.99:8080/")[0]).toMatch(/error 3 .*connect failed: connect to 10\.79\.0\.99:8080 timed out after 2 s/);
        // The real server saw web.test once: the repeats came from the cache. And
        // nosuch.test once too (NXDOMAIN is cached by dnsmasq's SOA minimum) or twice.
        const log = dnsLog.join("");
        expect(log.match(/query\[A\] web\.test from 10\.79\.0\.2/g)?.length).toBe(1);
        expect(log).toMatch(/query\[A\] alias2\.test from 10\.79\.0\.2/);
        await g.stop();
      } finally {
        for (const p of procs) if (p.pid !== undefined && p.exitCode === null) { try { process.kill(p.pid, "SIGTERM"); } catch { /* gone */ } }
        try { const pid = Number(readFileSync(pidFile, "utf8")); if (pid > 0) process.kill(pid, "SIGTERM"); } catch { /* not started */ }
        rmSync(pidFile, { force: true });
        await g.stop();
        try { sh("ip", "netns", "del", ns); } catch { /* already gone */ }
      }
    } finally {
      try { execFileSync("ip", ["link", "del", tap], { stdio: "ignore" }); } catch { /* moved into the namespace and gone with it */ }
    }
  }, 300000);
});
