// test/system/virtio.test.ts — virtio drivers in real QEMU (TCG), each on q35
// (virtio-pci) and microvm (modern virtio-mmio): the guest apps in
// test/apps/{blk,net-probe,rng,vcon} run a table of cases; the host checks
// what only it can see (disk image bytes, the console chardev file, entropy
// across boots). test/apps/blk-irq proves completions arrive by interrupt:
// MSI-X and INTx on q35, the slot's GSI on microvm.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootAndWait, stopAll, type Machine } from "../../harness/index.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-virtio-"));
afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const MACHINES: Machine[] = ["q35", "microvm"];
const DISK = 1 << 20;

/** The byte test/apps/blk writes at disk offset off. */
const pattern = (off: number) => (((off & 511) * 7 + Math.floor(off / 512) * 13 + Math.floor(off / 512 / 256)) & 0xff);

function fnv1a(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 16777619) >>> 0;
  return h;
}

describe.each(MACHINES)("virtio on %s", (machine) => {
  it("blk: writes a pattern the host reads back, reads a prepared image, refuses bad requests", async () => {
    const rw = join(dir, `${machine}-rw.img`);
    const ro = join(dir, `${machine}-ro.img`);
    writeFileSync(rw, new Uint8Array(DISK));
    const prepared = randomBytes(DISK);
    writeFileSync(ro, prepared);
    const r = await bootAndWait({
      app: "test/apps/blk", machine, timeoutMs: 120000,
      devices: { disks: [{ file: rw }, { file: ro, readOnly: true }] },
    });
    const out = r.serial;
    expect(out, out).toMatch(/virtio: blk0: virtio-blk (pci|mmio) .* queues \[\d+\] ok/);
    expect(out).toContain(machine === "microvm" ? "virtio-blk mmio" : "virtio-blk pci");
    // q35's ACPI MCFG puts ECAM at 0xb0000000: configuration space goes through it, not the ports.
    if (machine === "q35") expect(out).toMatch(/pci: \d+ functions, configuration space through ECAM at 0xb0000000 segment 0 buses 0-\d+ \(ACPI MCFG\)/);
    expect(out).toContain("write to read-only disk fails ... ok");
    expect(out).toContain("read past the end fails ... ok");
    expect(out).not.toContain("FAILED");
    expect(r.status, out).toBe(0);
    // The host finds every byte of the pattern in the image file.
    const img = readFileSync(rw);
    expect(img.length).toBe(DISK);
    let bad = -1;
    for (let i = 0; i < img.length; i++) if (img[i] !== pattern(i)) { bad = i; break; }
    expect(bad).toBe(-1);
    // And the guest's checksum of the prepared image matches ours.
    const m = /checksum (\d+) 0x([0-9a-f]+)/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m![1])).toBe(DISK);
    expect(parseInt(m![2], 16)).toBe(fnv1a(prepared));
    // The read-only image is untouched.
    expect(Buffer.compare(readFileSync(ro), prepared)).toBe(0);
  });

  const irqModes: [string, boolean, RegExp][] = machine === "q35"
    ? [["MSI-X", true, /^msix vectors 0x[0-9a-f]+,0x[0-9a-f]+$/], ["INTx", false, /^intx pin [A-D] irq \d+ vector 0x[0-9a-f]+$/]]
    : [["GSI", true, /^gsi \d+ edge vector 0x[0-9a-f]+$/]];
  it.each(irqModes)("blk: async completions arrive by interrupt (%s) while the loop halts; an idle guest halts", async (_mode, msix, want) => {
    const disk = join(dir, `${machine}-${_mode}-irq.img`);
    writeFileSync(disk, new Uint8Array(DISK));
    const r = await bootAndWait({
      app: "test/apps/blk-irq", machine, timeoutMs: 120000,
      devices: { disks: [{ file: disk }], net: "user", msix },
    });
    const out = r.serial;
    expect(r.status, out).toBe(0);
    expect(out).toContain("blk-irq: all ok");
    expect(out).not.toContain("FAILED");
    for (const dev of ["blk0", "net0"]) {
      const m = new RegExp(`irq mode ${dev}: (.*)`).exec(out);
      expect(m, out).not.toBeNull();
      expect(m![1].trim()).toMatch(want);
    }
    // Bursts: every completion was found by the interrupt path (none polled).
    const b = /blk0 bursts: interrupts (\d+), completions by interrupt (\d+) of (\d+), loop halts (\d+)/.exec(out);
    expect(b, out).not.toBeNull();
    expect(Number(b![1])).toBeGreaterThan(0);
    expect(Number(b![2])).toBe(Number(b![3]));
    expect(Number(b![4])).toBeGreaterThan(0);
    // Paced: the loop halted before each request, and each one's own interrupt ended the wait.
    const p = /blk0 paced: interrupts (\d+), completions by interrupt (\d+) of (\d+), loop halts (\d+)/.exec(out);
    expect(p, out).not.toBeNull();
    expect(Number(p![1])).toBeGreaterThanOrEqual(Number(p![3]));
    expect(Number(p![2])).toBe(Number(p![3]));
    expect(Number(p![4])).toBeGreaterThanOrEqual(Number(p![3]));
    // Idle with a NIC's receive buffers posted: a few passes, each one a halt (a spinning loop makes thousands).
    const idle = /idle \d+ ms: loop passes (\d+), halts (\d+)/.exec(out);
    expect(idle, out).not.toBeNull();
    expect(Number(idle![1])).toBeLessThan(50);
    expect(Number(idle![2])).toBeGreaterThan(0);
    // The data went to the disk.
    const img = readFileSync(disk);
    for (const i of [0, 17, 63]) expect(img[i * 4096 + 5]).toBe((i * 31 + 5 * 7) & 0xff);
  });

  it("net: ARP for 10.0.2.2 and DHCP DISCOVER get QEMU's real replies", async () => {
    const r = await bootAndWait({ app: "test/apps/net-probe", machine, timeoutMs: 90000, devices: { net: "user" } });
    const out = r.serial;
    expect(out, out).toMatch(/virtio: net0: virtio-net (pci|mmio) .* queues \[\d+,\d+\] ok mac 52:54:00:12:34:56/);
    expect(out).toContain("arp reply: 10.0.2.2 is at 52:55:0a:00:02:02");   // slirp's gateway MAC
    expect(out).toMatch(/dhcp offer: 10\.0\.2\.1[5-9] from 10\.0\.2\.2/);
    expect(out).toMatch(/counters: tx [1-9]\d* pkts \d+ bytes, rx [1-9]\d* pkts/);
    // The replies were announced by receive interrupts (the app halts between looks).
    expect(out).toMatch(/net0 interrupts [1-9]\d* \((msix vectors|gsi \d+ edge)/);
    expect(r.status, out).toBe(0);
  });

  it("rng: 4 KiB of entropy from virtio-rng, not constant, different on every boot", async () => {
    const runs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await bootAndWait({ app: "test/apps/rng", machine, timeoutMs: 60000, devices: { rng: true } });
      expect(r.status, r.serial).toBe(0);
      expect(r.serial).toMatch(/virtio: rng0: virtio-rng (pci|mmio) .* ok/);
      expect(r.serial).toContain("source: virtio-rng (rng0)");
      const m = /entropy: ([0-9a-f]+)/.exec(r.serial);
      expect(m).not.toBeNull();
      expect(m![1].length).toBe(8192);
      expect(new Set(m![1].match(/../g)).size).toBeGreaterThan(200);
      runs.push(m![1]);
    }
    expect(runs[0]).not.toBe(runs[1]);
  });

  it("console: a line printed by the kernel reaches the host chardev file", async () => {
    const log = join(dir, `${machine}-vcon.log`);
    const tag = Math.random().toString(36).slice(2, 10);
    const r = await bootAndWait({ app: "test/apps/vcon", machine, timeoutMs: 60000, cmdline: `vcon.tag=${tag}`, devices: { consoleLog: log } });
    expect(r.status, r.serial).toBe(0);
    expect(r.serial).toMatch(/virtio: vcon0: virtio-console (pci|mmio) .* ok/);
    expect(existsSync(log)).toBe(true);
    expect(readFileSync(log, "utf8")).toContain(`vcon line ${tag} via virtio-console\n`);
  });
});
