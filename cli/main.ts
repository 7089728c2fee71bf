// cli/main.ts — `skiff`: one module per subcommand; I/O passed in.
import { IO, UserError } from "./lib/log.js";
import { pushCommand } from "./commands/push.js";
import { pullCommand } from "./commands/pull.js";
import { buildCommand } from "./commands/build.js";
import { runCommand } from "./commands/run.js";
import { testCommand } from "./commands/test.js";
import { benchCommand } from "./commands/bench.js";
import { deployCommand } from "./commands/deploy.js";
import { mkfsCommand } from "./commands/mkfs.js";
import { newCommand } from "./commands/new.js";
import { psCommand } from "./commands/ps.js";
import { logsCommand } from "./commands/logs.js";
import { stopCommand } from "./commands/stop.js";
import { apiCommand } from "./commands/api.js";
import { devCommand } from "./commands/dev.js";

const COMMANDS: Record<string, { run: (argv: string[], io: IO) => Promise<number>; help: string }> = {
  new: { run: newCommand, help: "make a project: an app, its test, tsconfigs, a README" },
  build: { run: buildCommand, help: "build a bootable image of an app" },
  run: { run: runCommand, help: "build (if needed) and boot an app or image under QEMU" },
  dev: { run: devCommand, help: "run an app's Wasm in Node (no QEMU), reloading it when its files change" },
  ps: { run: psCommand, help: "list the guests running in the background (run --detach)" },
  logs: { run: logsCommand, help: "print a background guest's console (--follow: and what comes)" },
  api: { run: apiCommand, help: "call a background guest's management API" },
  stop: { run: stopCommand, help: "shut a background guest down" },
  test: { run: testCommand, help: "run the tests (this repository's suite, or your project's vitest tests)" },
  deploy: { run: deployCommand, help: "emit a libvirt domain or Firecracker config for an image" },
  mkfs: { run: mkfsCommand, help: "pack a folder into a site image for apps/httpd" },
  bench: { run: benchCommand, help: "run the benchmarks" },
  push: { run: pushCommand, help: "push an OCI image (build --format oci) to a registry" },
  pull: { run: pullCommand, help: "pull an OCI image from a registry (--disk unpacks its disk)" },
};

export const VERSION = "0.1.0";

function usage(): string {
  return [
    `skiff ${VERSION} — a guest kernel in AssemblyScript, booted straight under QEMU/KVM`,
    "",
    "usage: skiff <command> [options]",
    "",
    ...Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(8)} ${v.help}`),
    "",
    "skiff <command> --help shows a command's options.",
  ].join("\n");
}

export async function main(argv: string[], io: IO): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
    io.out(usage());
    return cmd ? 0 : 2;
  }
  if (cmd === "--version" || cmd === "-v") {
    io.out(VERSION);
    return 0;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    io.err(`skiff: unknown command '${cmd}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await c.run(rest, io);
  } catch (e) {
    if (e instanceof UserError) {
      io.err(`skiff ${cmd}: ${e.message}`);
      return e.status;
    }
    io.err(`skiff ${cmd}: internal error: ${(e as Error).stack ?? e}`);
    return 1;
  }
}
