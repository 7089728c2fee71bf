// test/system/ports.ts — host ports for the system tests' forwards and
// listeners. A port the kernel hands out for port 0 lies in its ephemeral
// range, which every outgoing connection on the machine also draws from:
// once released, another test's connect() may take it before the guest's
// forward binds it (EADDRINUSE). So ports come from below that range, are
// checked by binding them, and are not handed out twice by one process.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const given = new Set<number>();

/** The kernel's ephemeral range (ip_local_port_range), or Linux's default. */
function ephemeralLow(): number {
  try {
    const lo = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(lo) && lo > 2048) return lo;
  } catch { /* not Linux */ }
  return 32768;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

/** A port on 127.0.0.1 that nothing listens on now, below the ephemeral range. */
export async function freePort(): Promise<number> {
  const lo = 10000, hi = Math.max(lo + 1000, ephemeralLow());
  for (let i = 0; i < 200; i++) {
    const p = lo + Math.floor(Math.random() * (hi - lo));
    if (given.has(p)) continue;
    if (await bindable(p)) { given.add(p); return p; }
  }
  throw new Error(`no free port in ${lo}..${hi - 1} after 200 tries`);
}
