// cli/commands/logs.ts — `skiff logs NAME [--follow]`: a detached guest's
// console (and its supervisor's messages) so far; with --follow, what comes
// next too, until the guest ends or Ctrl-C.
import { openSync } from "node:fs";
import { IO } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";
import { alive, closeQuietly, findGuest, readFrom } from "../lib/guests.js";

const specs: OptionSpecs = {
  follow: { type: "boolean", help: "keep printing what the guest writes until it ends", alias: "f" },
  help: { type: "boolean", help: "show this help", alias: "h" },
};

export async function logsCommand(argv: string[], io: IO): Promise<number> {
  const { values, positionals } = parseOptions("logs", argv, specs);
  if (values.help || positionals.length !== 1) {
    const text = helpText("skiff logs NAME [--follow]", "Prints the console of a guest started with skiff run --detach.", specs);
    if (values.help) { io.out(text); return 0; }
    io.err(text);
    return 2;
  }
  const { rec } = findGuest(positionals[0]);
  // The fd keeps working after the supervisor removes the log when the guest ends.
  const fd = openSync(rec.log, "r");
  try {
    let offset = 0;
    for (;;) {
      const b = readFrom(fd, offset);
      if (b.length) { io.raw(b); offset += b.length; }
      if (!values.follow) return 0;
      if (!alive(rec.pid)) {
        const rest = readFrom(fd, offset);
        if (rest.length) io.raw(rest);
        return 0;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    closeQuietly(fd);
  }
}
