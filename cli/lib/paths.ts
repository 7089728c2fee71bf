// cli/lib/paths.ts — where the Skiff package lives (kernel, boot, toolchain).
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { existsSync } from "node:fs";

/** The package root: the folder with boot/ and kernel/. Works from the
 *  bundled dist/skiff.js and from the TypeScript sources under vitest. */
export function skiffRoot(): string {
  if (process.env.SKIFF_ROOT) return resolve(process.env.SKIFF_ROOT);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, "boot", "loader.c")) && existsSync(join(dir, "kernel"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("cannot find the Skiff package root (boot/loader.c); set SKIFF_ROOT");
}

export function toolBin(root: string, name: string): string {
  return join(root, "node_modules", ".bin", name);
}
