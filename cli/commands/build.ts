// cli/commands/build.ts — `skiff build <app>`: compile an app with the kernel into a bootable image.
import { build } from "../lib/build.js";
import { IO } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";

export const buildSpecs: OptionSpecs = {
  out: { type: "string", help: "output folder", metavar: "DIR" },
  debug: { type: "boolean", help: "keep Wasm function names (symbolized traps), less optimization" },
  force: { type: "boolean", help: "rebuild every step, ignoring the cache" },
  help: { type: "boolean", help: "show this help", alias: "h" },
};

export async function buildCommand(argv: string[], io: IO): Promise<number> {
  const { values, positionals } = parseOptions("build", argv, buildSpecs);
  if (values.help || positionals.length !== 1) {
    const text = helpText("skiff build <app-dir | entry.ts> [options]", "Builds a bootable PVH/Multiboot2 ELF image of the app and the kernel.", buildSpecs);
    if (values.help) { io.out(text); return 0; }
    io.err(text);
    return 2;
  }
  await build({ app: positionals[0], outDir: values.out as string | undefined, debug: !!values.debug, force: !!values.force }, io);
  return 0;
}
