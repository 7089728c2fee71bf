// cli/commands/mkfs.ts — `skiff mkfs <folder> -o site.img`: packs a folder
// into the read-only site image apps/httpd serves from a virtio-blk disk
// (format: cli/lib/sitefs.ts). `--list` prints what an image holds.
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { resolve, relative } from "node:path";
import { IO, UserError, formatBytes } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";
import { buildSiteImage, collectFiles, readSiteImage } from "../lib/sitefs.js";

export const mkfsSpecs: OptionSpecs = {
  out: { type: "string", help: "image file to write", alias: "o", metavar: "FILE" },
  list: { type: "boolean", help: "list the files of an existing image (the positional argument) and verify its checksums" },
  help: { type: "boolean", help: "show this help", alias: "h" },
};

export async function mkfsCommand(argv: string[], io: IO): Promise<number> {
  const { values, positionals } = parseOptions("mkfs", argv, mkfsSpecs);
  const usage = helpText("skiff mkfs <folder> -o <site.img> | skiff mkfs --list <site.img>",
    "Packs a folder into a read-only site image for apps/httpd (attach it with skiff run --disk site.img,ro).", mkfsSpecs);
  if (values.help) { io.out(usage); return 0; }
  if (positionals.length !== 1 || (!values.list && !values.out)) { io.err(usage); return 2; }
  const src = resolve(io.cwd, positionals[0]);
  if (values.list) {
    if (!existsSync(src)) throw new UserError(`${positionals[0]}: no such image`);
    let entries;
    try { entries = readSiteImage(readFileSync(src)); } catch (e) { throw new UserError(`${positionals[0]}: ${(e as Error).message}`, 1); }
    for (const e of entries) io.out(`${String(e.size).padStart(10)}  "${e.etag}"  ${e.path}`);
    io.out(`${entries.length} files, checksums good`);
    return 0;
  }
  if (!existsSync(src) || !statSync(src).isDirectory()) throw new UserError(`${positionals[0]}: not a folder; give the folder to pack`);
  const { files, skipped } = collectFiles(src);
  if (files.length === 0) throw new UserError(`${positionals[0]}: no files to pack (dotfiles and symbolic links are skipped)`);
  let img: Buffer;
  try { img = buildSiteImage(files); } catch (e) { throw new UserError(`${positionals[0]}: ${(e as Error).message}`, 1); }
  const out = resolve(io.cwd, values.out as string);
  writeFileSync(out, img);
  for (const s of skipped) io.out(`  skipped ${s}`);
  io.out(`${relative(io.cwd, out) || out}: ${files.length} files, ${formatBytes(img.length)}`);
  return 0;
}
