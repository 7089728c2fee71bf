// cli/main.ts — `skiff`: one module per subcommand; I/O passed in.
import { IO, UserError } from "./lib/log.js";
import { buildCommand } from "./commands/build.js";
import { runCommand } from "./commands/run.js";
import { testCommand } from "./commands/test.js";
import { benchCommand } from "./commands/bench.js";
import { deployCommand } from "./commands/deploy.js";
import { mkfsCommand } from "./commands/mkfs.js";
import { devCommand } from "./commands/dev.js";

const COMMANDS: Record<string, { run: (argv: string[], io: IO) => Promise<number>; help: string }> = {
  build: { run: buildCommand, help: "build a bootable image of an app" },
  run: { run: runCommand, help: "build (if needed) and boot an app or image under QEMU" },
  dev: { run: devCommand, help: "run an app's Wasm in Node (no QEMU), reloading it when its files change" },
  test: { run: testCommand, help: "run the test suite" },
  deploy: { run: deployCommand, help: "emit a libvirt domain or Firecracker config for an image" },
  mkfs: { run: mkfsCommand, help: "pack a folder into a site image for apps/httpd" },
  bench: { run: benchCommand, help: "run the benchmarks" },
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
