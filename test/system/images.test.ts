// test/system/images.test.ts — `skiff build --format`: the ISO and the raw and
// qcow2 disks boot on q35 under TCG through GRUB and reach the app's greeting;
// a deployment-time command line (SMBIOS OEM string) replaces the baked-in
// one; two builds of the same sources give byte-identical ELF and ISO files.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { build } from "../../cli/lib/build.js";
import { nodeIO } from "../../cli/lib/log.js";
import { diskBootArgs, makeImages, type Artefact } from "../../cli/lib/image.js";
import { BOOT_MARKER } from "../../cli/lib/qemu.js";

const io = { ...nodeIO(), out: () => {}, raw: () => {} };
const dirs: string[] = [];
let first: Artefact[] = [];

async function buildImages(formats: ("elf" | "iso" | "raw" | "qcow2")[], force = false): Promise<Artefact[]> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-images-"));
  dirs.push(dir);
  const r = await build({ app: "apps/hello", outDir: dir, quiet: true, force }, io);
  return makeImages(r.elf, formats, "baked=1");
}

/** Boots a disk image on q35 (TCG, time limit) and returns the serial output after the boot marker. */
async function bootDisk(a: Artefact, extra: string[] = []): Promise<{ serial: string; code: number | undefined }> {
  const r = await execa("qemu-system-x86_64", [
    "-M", "q35", "-accel", "tcg", "-cpu", "qemu64,+rdrand", "-m", "64M", "-smp", "1",
    "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
    "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
    ...diskBootArgs(a.format as "iso" | "raw" | "qcow2", a.path), ...extra,
  ], { timeout: 60_000, reject: false, stdin: "ignore", forceKillAfterDelay: 1000 });
  const out = String(r.stdout);
  const at = out.indexOf(BOOT_MARKER);
  return { serial: at < 0 ? `(no boot marker) ${out}` : out.slice(at + BOOT_MARKER.length).replace(/\r\n/g, "\n"), code: r.exitCode };
}

beforeAll(async () => {
  first = await buildImages(["elf", "iso", "raw", "qcow2"]);
});
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const art = (f: string) => first.find((a) => a.format === f)!;

describe("disk images on q35 (TCG)", () => {
  it("the ISO boots through GRUB + Multiboot2 with the baked-in command line", async () => {
    const r = await bootDisk(art("iso"));
    expect(r.serial).toContain("booted via Multiboot2");
    expect(r.serial).toContain("Hello from Skiff!");
    expect(r.serial).toContain("cmdline: baked=1");
    // The memory map came through GRUB's tags (the loader's record): RAM is reported.
    expect(Number(/memory: (\d+) KiB/.exec(r.serial)?.[1] ?? 0)).toBeGreaterThan(16 * 1024);
    expect(r.code).toBe(1);   // isa-debug-exit status 0
  });

  it("the raw disk boots from virtio-blk", async () => {
    const r = await bootDisk(art("raw"));
    expect(r.serial).toContain("Hello from Skiff!");
    expect(r.code).toBe(1);
  });

  it("the qcow2 disk boots, and an SMBIOS OEM string overrides the command line", async () => {
    const r = await bootDisk(art("qcow2"), ["-smbios", "type=11,value=skiff.cmdline=deployed=2 quiet-not"]);
    expect(r.serial).toContain("Hello from Skiff!");
    expect(r.serial).toContain("cmdline: deployed=2 quiet-not");
    expect(r.serial).not.toContain("baked=1");
  });

  it("is a qcow2 file qemu-img recognises", async () => {
    const info = JSON.parse((await execa("qemu-img", ["info", "--output=json", art("qcow2").path])).stdout);
    expect(info.format).toBe("qcow2");
  });
});

describe("reproducible builds", () => {
  it("a second build from scratch in another folder gives byte-identical ELF and ISO", async () => {
    const second = await buildImages(["elf", "iso"], true);
    for (const f of ["elf", "iso"]) {
      const b = second.find((a) => a.format === f)!;
      expect(b.sha256, `${f} differs`).toBe(art(f).sha256);
      expect(readFileSync(b.path).equals(readFileSync(art(f).path))).toBe(true);
    }
  });
});
