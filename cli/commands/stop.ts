// cli/commands/stop.ts — `skiff stop NAME`: a detached guest shuts down through
// its management API (POST /os/shutdown: the app and devices are told); if it
// has none, or is still there after --timeout, its supervisor stops QEMU.
import { IO, UserError } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";
import { alive, callGuestApi, findGuest, removeGuestFiles, writeRecord } from "../lib/guests.js";

const specs: OptionSpecs = {
  timeout: { type: "number", help: "seconds to wait for a graceful shutdown before QEMU is stopped", default: 30, metavar: "SECONDS" },
  help: { type: "boolean", help: "show this help", alias: "h" },
};

async function gone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

function kill(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch { /* gone */ }
}

export async function stopCommand(argv: string[], io: IO): Promise<number> {
  const { values, positionals } = parseOptions("stop", argv, specs);
  if (values.help || positionals.length !== 1) {
    const text = helpText("skiff stop NAME [--timeout SECONDS]", "Shuts down a guest started with skiff run --detach: through its management API, else by stopping QEMU.", specs);
    if (values.help) { io.out(text); return 0; }
    io.err(text);
    return 2;
  }
  const { dir, rec } = findGuest(positionals[0]);
  let why = "no management API";
  if (rec.apiPort || rec.apiSocket) {
    try {
      writeRecord(dir, { ...rec, status: "stopping" });   // before: the supervisor removes it when the guest ends
      const r = await callGuestApi(rec, "POST", "/os/shutdown");
      if (r.status >= 200 && r.status <= 299) {
        if (await gone(rec.pid, (values.timeout as number) * 1000)) {
          io.out(`skiff stop: ${rec.name} shut down`);
          return 0;
        }
        why = `still running ${values.timeout} s after POST /os/shutdown`;
      } else why = `POST /os/shutdown answered HTTP ${r.status}: ${r.body.trim()}`;
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      why = e.message;
    }
  }
  // The supervisor stops QEMU on SIGTERM and removes the guest's files.
  io.err(`skiff stop: ${rec.name}: ${why}; stopping QEMU`);
  kill(rec.pid, "SIGTERM");
  if (!(await gone(rec.pid, 10000))) {
    kill(rec.qemuPid, "SIGKILL");
    kill(rec.pid, "SIGKILL");
    removeGuestFiles(dir, rec.name);
  }
  io.out(`skiff stop: ${rec.name} stopped`);
  return 0;
}
