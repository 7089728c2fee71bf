// cli/commands/ps.ts — `skiff ps`: the guests started with `skiff run --detach`
// that still run, one line each: name, app, QEMU's PID, ports, uptime, status.
import { IO } from "../lib/log.js";
import { listRecords, runtimeDir } from "../lib/guests.js";

export function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor(s / 3600) % 24).padStart(2, "0")}h`;
}

export async function psCommand(argv: string[], io: IO): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h") || argv.length > 0) {
    (argv.length && !argv.includes("--help") && !argv.includes("-h") ? io.err : io.out)(
      "usage: skiff ps\n\nLists the guests started with skiff run --detach that still run: name, app, QEMU's PID, forwarded ports (127.0.0.1), uptime, status.");
    return argv.includes("--help") || argv.includes("-h") ? 0 : 2;
  }
  const dir = runtimeDir(io.env);
  const rows = listRecords(dir).map((r) => [
    r.name, r.app, String(r.qemuPid),
    [...r.ports, ...(r.apiPort ? [`${r.apiPort}:api`] : [])].join(",") || "-",
    formatUptime(Date.now() - r.started), r.status,
  ]);
  const head = ["NAME", "APP", "PID", "PORTS", "UPTIME", "STATUS"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) io.out(r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]) : c)).join("  "));
  return 0;
}
