// cli/commands/pull.ts — `skiff pull REF [DIR]`: an image from an OCI
// registry into an OCI image layout folder (skopeo), its labels printed;
// --disk also unpacks the bootable disk it carries under /disk/.
import { basename, resolve } from "node:path";
import { IO, UserError } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";
import { LABEL, extractOciDisk, readOciImage } from "../lib/deploy/oci.js";
import { parseReference, pullImage } from "../lib/deploy/registry.js";
import { registryAuth, registrySpecs } from "./push.js";

const pullSpecs: OptionSpecs = {
  disk: { type: "string", help: "also write the disk the image carries (/disk/*) to this file", metavar: "FILE" },
  ...registrySpecs,
};

export async function pullCommand(argv: string[], io: IO): Promise<number> {
  const { values: v, positionals } = parseOptions("pull", argv, pullSpecs);
  if (v.help || positionals.length < 1 || positionals.length > 2) {
    const t = helpText("skiff pull <registry/repository[:tag]> [folder] [options]", "Pulls an image into an OCI image layout folder (default: <repository name>.oci); --disk unpacks its disk.", pullSpecs);
    if (v.help) { io.out(t); return 0; }
    io.err(t);
    return 2;
  }
  const ref = parseReference(positionals[0]);
  const dir = resolve(io.cwd, positionals[1] ?? `${basename(ref.repository)}.oci`);
  const digest = await pullImage(positionals[0], dir, registryAuth(v, io));
  const img = readOciImage(dir, "latest");
  if (img.manifestDigest !== digest) throw new UserError(`${dir}: holds ${img.manifestDigest}, not the pulled ${digest}`, 1);
  io.out(`${dir} ${digest}`);
  for (const k of [LABEL.app, LABEL.skiffVersion, LABEL.diskSha256]) if (img.labels[k] !== undefined) io.out(`  ${k}=${img.labels[k]}`);
  if (v.disk) {
    const out = resolve(io.cwd, v.disk as string);
    try {
      extractOciDisk(dir, out, "latest");
    } catch (e) {
      throw new UserError((e as Error).message, 1);
    }
    io.out(`  disk -> ${out}`);
  }
  return 0;
}
