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

export interface WrkResult { rps: number | null; p50: string | null; p99: string | null; raw: string }

export const WRK_ARGS = (seconds: number) => ["-t1", "-c8", `-d${seconds}s`, "--latency"];

export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s*([\d.]+)/.exec(out);
  const p50 = /^\s*50%\s+(\S+)/m.exec(out);
  const p99 = /^\s*99%\s+(\S+)/m.exec(out);
  return { rps: rps ? parseFloat(rps[1]) : null, p50: p50?.[1] ?? null, p99: p99?.[1] ?? null, raw: out };
}

export function runWrk(url: string, seconds: number, prefix: string[] = []): Promise<WrkResult> {
  const [cmd, ...args] = [...prefix, "wrk", ...WRK_ARGS(seconds), url];
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err && !stdout) resolve({ rps: null, p50: null, p99: null, raw: String(stderr || err.message) });
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
