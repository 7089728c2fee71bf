// cli/lib/build.ts compileParts: the dev profile's C parts are compiled once
// per content; an edit recompiles only the parts whose text changed.
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileParts } from "../../cli/lib/build.js";

describe("dev profile: C parts cached by content", () => {
  it("compiles each part once, then only what changed; objects no part needs are removed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-parts-"));
    try {
      const parts = [0, 1, 2, 3].map((i) => join(dir, `image_${i}.c`));
      parts.forEach((p, i) => writeFileSync(p, `int f${i}(void) { return ${i}; }\n`));
      const cache = join(dir, "cache");
      const compiled: string[] = [];
      const compile = async (src: string, obj: string) => { compiled.push(src); writeFileSync(obj, "obj of " + src); };

      const first = await compileParts(parts, "headers-1", cache, compile);
      expect(compiled.sort()).toEqual([...parts].sort());
      expect(first.every(existsSync)).toBe(true);

      compiled.length = 0;
      const again = await compileParts(parts, "headers-1", cache, compile);
      expect(compiled).toEqual([]);
      expect(again).toEqual(first);

      writeFileSync(parts[2], "int f2(void) { return 42; }\n");
      const edited = await compileParts(parts, "headers-1", cache, compile);
      expect(compiled).toEqual([parts[2]]);
      expect(edited.filter((o, i) => o !== first[i])).toEqual([edited[2]]);
      expect(readdirSync(cache).length).toBe(4);   // the old object of part 2 is gone

      compiled.length = 0;
      await compileParts(parts, "headers-2", cache, compile);   // the shared headers changed: everything
      expect(compiled.length).toBe(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a failed compile leaves no object behind to be taken for a good one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-parts-"));
    try {
      const part = join(dir, "image_0.c");
      writeFileSync(part, "int broken(;\n");
      const cache = join(dir, "cache");
      await expect(compileParts([part], "h", cache, async (_s, obj) => { writeFileSync(obj, "half"); throw new Error("cc failed"); })).rejects.toThrow(/cc failed/);
      expect(readdirSync(cache).filter((f) => f.endsWith(".o"))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
