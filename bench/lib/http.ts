// bench/lib/http.ts — loopback HTTP helpers: a free port, "first answer"
// polling, wrk runs and their parsed output, the host-side httpd reference.
import { execFile, spawn } from "node:child_process";
import { request } from "node:http";
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function httpGet(host: string, port: number, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: "/", method: "GET", timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? null));
      res.on("error", () => resolve(null));
    });
    req.on("timeout", () => { req.destroy(); resolve(null); });
    req.on("error", () => resolve(null));
    req.end();
  });
}

/** Polls until a 200 answer; the instant it arrives, or null past the deadline. */
export async function firstAnswer(host: string, port: number, deadline: number): Promise<number | null> {
  while (performance.now() < deadline) {
    const code = await httpGet(host, port, 1000);
    if (code === 200) return performance.now();
    await new Promise((r) => setTimeout(r, 20));
  }
  return null;
}

export interface WrkResult {
  rps: number | null;
  /** wrk's own text, e.g. "1.23ms". */
  p50: string | null;
  p99: string | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Completed requests, socket errors (connect+read+write+timeout), non-2xx/3xx answers. */
  requests: number | null;
  errors: number;
  non2xx: number;
  raw: string;
}

export interface WrkOptions {
  /** Open connections (default 8); wrk keeps them alive unless the server closes. */
  connections?: number;
  /** A Lua script (wrk -s) that builds the requests. */
  script?: string;
  /** Request headers (wrk -H), e.g. the management API's Authorization. */
  headers?: string[];
}

export const WRK_ARGS = (seconds: number, connections = 8) => ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency"];

/** "850.00us", "1.23ms", "2.00s", "1.00m" → milliseconds. */
export function wrkMs(s: string | null): number | null {
  const m = s === null ? null : /^([\d.]+)(us|ms|s|m)$/.exec(s);
  if (!m) return null;
  const v = parseFloat(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "ms" ? v : m[2] === "s" ? v * 1000 : v * 60000;
}

export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s*([\d.]+)/.exec(out);
  const p50 = /^\s*50%\s+(\S+)/m.exec(out)?.[1] ?? null;
  const p99 = /^\s*99%\s+(\S+)/m.exec(out)?.[1] ?? null;
  const req = /(\d+) requests in/.exec(out);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const n2 = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    rps: rps ? parseFloat(rps[1]) : null, p50, p99, p50Ms: wrkMs(p50), p99Ms: wrkMs(p99),
    requests: req ? parseInt(req[1], 10) : null,
    errors: se ? se.slice(1).reduce((a, x) => a + parseInt(x, 10), 0) : 0,
    non2xx: n2 ? parseInt(n2[1], 10) : 0,
    raw: out,
  };
}

export function runWrk(url: string, seconds: number, prefix: string[] = [], o: WrkOptions = {}): Promise<WrkResult> {
  const [cmd, ...args] = [...prefix, "wrk", ...WRK_ARGS(seconds, o.connections), ...(o.script ? ["-s", o.script] : []), ...(o.headers ?? []).flatMap((h) => ["-H", h]), url];
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err && !stdout) resolve({ rps: null, p50: null, p99: null, p50Ms: null, p99Ms: null, requests: null, errors: 0, non2xx: 0, raw: String(stderr || err.message) });
      else resolve(parseWrk(stdout));
    });
  });
}

/** busybox httpd in the foreground on the host (no virtualization), stopped by PID. */
export async function hostHttpd(busybox: string, wwwDir: string, port: number): Promise<{ pid: number; stop: () => Promise<void> }> {
  const child = spawn(busybox, ["httpd", "-f", "-p", `127.0.0.1:${port}`, "-h", wwwDir], { stdio: "ignore" });
  const gone = new Promise<void>((r) => child.on("close", () => r()));
  const deadline = performance.now() + 5000;
  await firstAnswer("127.0.0.1", port, deadline);
  return {
    pid: child.pid ?? -1,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, "SIGKILL");
      await gone;
    },
  };
}

export interface Download { code: number | null; bytes: number | null; secs: number | null }

/** n GETs of url one after the other on one kept-alive connection (curl
 *  reuses it for the same host), each timed from its request to its last
 *  byte: curl's time_total; the body goes to /dev/null. */
export function downloads(url: string, n: number, prefix: string[] = [], limitS = 120): Promise<Download[]> {
  const w = "%{http_code} %{size_download} %{time_total}\\n";
  const [cmd, ...args] = [...prefix, "curl", "-s", "-m", String(limitS), "-w", w, ...Array.from({ length: n }, () => ["-o", "/dev/null", url]).flat()];
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: (n * limitS + 30) * 1000 }, (_err, stdout) => {
      const out: Download[] = String(stdout).trim().split("\n").filter(Boolean).map((l) => {
        const [c, b, t] = l.trim().split(/\s+/).map(Number);
        return { code: Number.isFinite(c) ? c : null, bytes: Number.isFinite(b) ? b : null, secs: Number.isFinite(t) ? t : null };
      });
      while (out.length < n) out.push({ code: null, bytes: null, secs: null });
      resolve(out);
    });
  });
}
