// boot/libc.c's memcpy, memmove and memset, and boot/memfill.h: under TCG they
// are unrolled stores and overlapping tails rather than REP string
// instructions, so each length and alignment is checked against a plain loop
// (test/unit/c/mem-run.c), built for this machine with the sanitizers where
// gcc has them. The routines are taken from libc.c's own text and renamed,
// so that the host's libc keeps its own.
import { describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");

/** libc.c from memcpy up to memcmp, with the three names prefixed by t_. */
export function memRoutines(libc: string): string {
  const from = libc.indexOf("void *memcpy(");
  const to = libc.indexOf("int memcmp(");
  if (from < 0 || to < from) throw new Error("boot/libc.c: memcpy ... memcmp not found");
  return libc.slice(from, to).replace(/(?<![\w])(memcpy|memmove|memset)\(/g, "t_$1(");
}

describe("loader memory routines", () => {
  it("copy, move and fill exactly the bytes asked for, at every length up to 300 and every alignment", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-mem-"));
    const src = join(dir, "mem.c");
    writeFileSync(src, "#include <stdint.h>\n#include <stddef.h>\n#include \"memfill.h\"\n" +
      memRoutines(readFileSync(join(ROOT, "boot/libc.c"), "utf8")));
    const bin = join(dir, "mem-run");
    const srcs = ["-I", join(ROOT, "boot"), src, join(ROOT, "test/unit/c/mem-run.c"), "-o", bin];
    const strict = ["-std=gnu11", "-O1", "-g", "-Wall", "-Werror", "-fno-builtin"];
    const san = spawnSync("gcc", [...strict, "-fsanitize=address,undefined", "-fno-sanitize-recover=all", ...srcs], { encoding: "utf8" });
    if (san.status !== 0) execFileSync("gcc", [...strict, ...srcs]);
    const r = spawnSync(bin, [], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toMatch(/^ok$/m);
    expect(r.status).toBe(0);
  });
});
