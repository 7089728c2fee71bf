// cli/commands/build.ts — `skiff build <app>`: compile an app with the kernel into a bootable image.
import { build } from "../lib/build.js";
import { IO } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";
import { makeImages, parseFormats, printArtefacts } from "../lib/image.js";
import { relative } from "node:path";

export const buildSpecs: OptionSpecs = {
  out: { type: "string", help: "output folder", metavar: "DIR" },
  debug: { type: "boolean", help: "keep Wasm function names (symbolized traps), less optimization" },
  dev: { type: "boolean", help: "development profile: fast rebuilds (no optimization, cached C parts), a larger and slower image; names kept" },
  force: { type: "boolean", help: "rebuild every step, ignoring the cache" },
  format: { type: "string", help: "image formats, comma-separated: elf, iso (GRUB), raw and qcow2 (bootable disks), oci (the qcow2 as a KubeVirt containerDisk)", default: "elf", metavar: "LIST" },
  cmdline: { type: "string", help: "command line baked into iso/raw/qcow2 images (a deployment may override it)", default: "", metavar: "TEXT" },
  embed: { type: "string", help: "pack this folder into the image as a site image (apps/httpd serves it)", metavar: "DIR" },
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
  const formats = parseFormats(values.format as string);
  const r = await build({ app: positionals[0], outDir: values.out as string | undefined, debug: !!values.debug, dev: !!values.dev, force: !!values.force, embed: values.embed as string | undefined }, io);
  printArtefacts(io, await makeImages(r.elf, formats, values.cmdline as string), (p) => relative(io.cwd, p) || p);
  return 0;
}
