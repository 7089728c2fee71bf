// `skiff mkfs` and the site image format (cli/lib/sitefs.ts): a folder packs
// into an image that reads back byte for byte, with sector-aligned data,
// dotfiles and links skipped, checksums that catch damage, and errors a
// person can act on.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import type { IO } from "../../cli/lib/log.js";
import { buildSiteImage, collectFiles, crc32, readSiteImage } from "../../cli/lib/sitefs.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-sitefs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(): IO & { outText: string[]; errText: string[] } {
  const o: string[] = [], e: string[] = [];
  return { out: (t) => o.push(t), err: (t) => e.push(t), raw: () => {}, cwd: dir, env: {}, isTTY: false, outText: o, errText: e };
}

describe("skiff mkfs", () => {
  const site = join(dir, "www");
  mkdirSync(join(site, "a/b"), { recursive: true });
  writeFileSync(join(site, "index.html"), "<p>hi</p>");
  writeFileSync(join(site, "a/b/deep.txt"), "deep");
  writeFileSync(join(site, "a/bin.dat"), Buffer.from([0, 1, 2, 255]));
  writeFileSync(join(site, ".secret"), "not packed");
  symlinkSync("/etc/passwd", join(site, "link"));

  it("packs a folder; the image reads back byte for byte", async () => {
    const t = io();
    expect(await main(["mkfs", "www", "-o", "site.img"], t)).toBe(0);
    expect(t.outText.join("\n")).toMatch(/site.img: 3 files/);
    expect(t.outText.join("\n")).toMatch(/skipped \.secret/);
    expect(t.outText.join("\n")).toMatch(/skipped link/);
    const img = readFileSync(join(dir, "site.img"));
    expect(img.length % 512).toBe(0);
    expect(img.subarray(0, 8).toString()).toBe("SKIFFSFS");
    const entries = readSiteImage(img);
    expect(entries.map((e) => e.path)).toEqual(["a/b/deep.txt", "a/bin.dat", "index.html"]);
    for (const e of entries) {
      expect(e.offset % 512).toBe(0);
      expect(img.subarray(e.offset, e.offset + e.size).equals(readFileSync(join(site, e.path)))).toBe(true);
    }
    const l = io();
    expect(await main(["mkfs", "--list", "site.img"], l)).toBe(0);
    expect(l.outText.at(-1)).toBe("3 files, checksums good");
  });

  it("the same folder gives the same image (no times or host paths inside)", async () => {
    expect(await main(["mkfs", "www", "-o", "again.img"], io())).toBe(0);
    expect(readFileSync(join(dir, "again.img")).equals(readFileSync(join(dir, "site.img")))).toBe(true);
  });

  it("--list finds damage", async () => {
    const img = readFileSync(join(dir, "site.img"));
    const e = readSiteImage(img).find((x) => x.path === "index.html")!;
    img[e.offset] ^= 1;
    writeFileSync(join(dir, "bad.img"), img);
    const t = io();
    expect(await main(["mkfs", "--list", "bad.img"], t)).toBe(1);
    expect(t.errText.join("")).toMatch(/index.html: data checksum mismatch/);
  });

  it("errors say what to do", async () => {
    const t = io();
    expect(await main(["mkfs", "missing", "-o", "x.img"], t)).toBe(2);
    expect(t.errText.join("")).toMatch(/not a folder/);
    mkdirSync(join(dir, "empty"));
    const u = io();
    expect(await main(["mkfs", "empty", "-o", "x.img"], u)).toBe(2);
    expect(u.errText.join("")).toMatch(/no files to pack/);
    const v = io();
    expect(await main(["mkfs", "www"], v)).toBe(2);
    expect(v.errText.join("")).toMatch(/usage: skiff mkfs/);
  });
});

describe("format", () => {
  it("sorts by UTF-8 bytes and rejects duplicate or climbing paths", () => {
    const img = buildSiteImage([{ path: "é", data: Buffer.from("1") }, { path: "z", data: Buffer.from("2") }, { path: "Z", data: Buffer.from("3") }]);
    expect(readSiteImage(img).map((e) => e.path)).toEqual(["Z", "z", "é"]);
    expect(() => buildSiteImage([{ path: "a", data: Buffer.alloc(1) }, { path: "a", data: Buffer.alloc(2) }])).toThrow(/duplicate/);
    expect(() => buildSiteImage([{ path: "../x", data: Buffer.alloc(1) }])).toThrow(/bad path/);
    expect(() => buildSiteImage([{ path: "/x", data: Buffer.alloc(1) }])).toThrow(/bad path/);
  });

  it("CRC-32 is the standard one", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
  });

  it("collects files in path order", () => {
    const { files } = collectFiles(join(dir, "www"));
    expect(files.map((f) => f.path)).toEqual(["a/b/deep.txt", "a/bin.dat", "index.html"]);
  });
});
