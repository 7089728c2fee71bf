// Boot information and console. The boot protocols are parsed once, by the
// loader's boot/bootrecord.c: here it is compiled for the host (with ASan and
// UBSan when the compiler has them) and run on each sample; the record it
// makes is then read by the kernel (kernel/platform/bootinfo, as Wasm in Node against
// the fake platform), so every case checks both halves end to end.
// PVH samples are real bytes captured from QEMU (test/fixtures/bootinfo-samples.json,
// made by test/apps/dumpboot); the Multiboot2 sample is built per the spec §3.6.
import { beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeHost } from "../platform/host.js";
import { ROOT, loadKernel } from "../platform/wasm.js";

type E = {
  parse(a: bigint): number; cmdlineText(): number; protocol(): number; rsdpCopyLength(): number;
  cmdline(): number; problems(): number; region(i: number): number; rsdp(): bigint; bootloader(): number;
  parseCmdline(s: number): number; cmdGet(k: number): number; cmdAll(k: number): number;
  rawHas(s: number, k: number): number; cmdHas(k: number): number;
  bannerMatches(): number; consoleInit(): void; consoleNumbers(v: bigint): void; consolePrint(s: number): void; dmesg(): number; abortNow(): void;
  __newString?: (s: string) => number;
};

const samples = JSON.parse(readFileSync(join(ROOT, "test/fixtures/bootinfo-samples.json"), "utf8"));
const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));

/** The loader's parser, built for this machine. */
let parser = "";
beforeAll(() => {
  parser = join(mkdtempSync(join(tmpdir(), "skiff-bootrecord-")), "bootrecord-run");
  const srcs = ["-I", join(ROOT, "boot"), join(ROOT, "boot/bootrecord.c"), join(ROOT, "test/unit/c/bootrecord-run.c"), "-o", parser];
  const strict = ["-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror"];
  const san = spawnSync("gcc", [...strict, "-fsanitize=address,undefined", "-fno-sanitize-recover=all", ...srcs], { encoding: "utf8" });
  if (san.status !== 0) execFileSync("gcc", [...strict, ...srcs]);
}, 60_000);

type Seg = { base: bigint; bytes: Uint8Array };
/** What boot/bootrecord.c makes of the boot information at addr in this physical memory. */
function bootRecord(protocol: number, addr: bigint, segs: Seg[]): Uint8Array {
  const head = Buffer.alloc(16);
  head.writeUInt32LE(protocol, 0); head.writeBigUInt64LE(addr, 4); head.writeUInt32LE(segs.length, 12);
  const parts: Buffer[] = [head];
  for (const s of segs) {
    const h = Buffer.alloc(12);
    h.writeBigUInt64LE(s.base, 0); h.writeUInt32LE(s.bytes.length, 8);
    parts.push(h, Buffer.from(s.bytes));
  }
  const r = spawnSync(parser, [], { input: Buffer.concat(parts), maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bootrecord.c failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}`);
  return Uint8Array.from(r.stdout);
}

/** Where the test puts the record in the fake machine's physical memory. */
const RECORD = 0x90000n;

async function kernelWith(host: FakeHost) {
  const k = await loadKernel<E>("test/unit/wasm/bootinfo.ts", host);
  const s = (t: string) => {
    const buf = Buffer.from(t, "utf16le");
    const ex = k.exports as unknown as { __new(n: number, id: number): number; __pin(p: number): number };
    const p = ex.__pin(ex.__new(buf.length, 2));   // id 2: String
    new Uint8Array(k.exports.memory.buffer).set(buf, p);
    return p;
  };
  return { k, s };
}

/** Parses the boot information with the loader's parser and reads the record with the kernel's reader. */
async function boot(protocol: number, addr: bigint, segs: Seg[]) {
  const host = new FakeHost({ bootRecord: RECORD });
  host.addPhys(RECORD, bootRecord(protocol, addr, segs));
  const { k, s } = await kernelWith(host);
  const n = k.exports.parse(RECORD);
  return { k, s, n, host };
}

/** Reference decoding of hvm_memmap_table_entry[] (24 bytes each), independent of the loader's. */
function refMemmap(bytes: Uint8Array): string[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  for (let o = 0; o + 24 <= bytes.length; o += 24) {
    const base = dv.getBigUint64(o, true), len = dv.getBigUint64(o + 8, true), type = dv.getUint32(o + 16, true);
    if (len) out.push(`0x${base.toString(16)}+0x${len.toString(16)}:${type}`);
  }
  return out;
}

function pvhSegs(name: string, startInfo?: Uint8Array): Seg[] {
  const smp = samples[name];
  return [
    { base: BigInt(smp.addr), bytes: startInfo ?? hex(smp.start_info) },
    // The command line as the guest's memory holds it: the string, then whatever follows (zeros).
    { base: BigInt(smp.cmdline.addr), bytes: Uint8Array.from([...hex(smp.cmdline.hex), ...new Uint8Array(4096)]) },
    { base: BigInt(smp.memmap.addr), bytes: hex(smp.memmap.hex) },
  ];
}

describe("PVH start_info (captured from QEMU)", () => {
  for (const name of ["pvh-microvm", "pvh-q35"]) {
    it(`parses ${name}: command line, memory map`, async () => {
      const smp = samples[name];
      const { k, n } = await boot(1, BigInt(smp.addr), pvhSegs(name));
      const want = refMemmap(hex(smp.memmap.hex));
      expect(n).toBe(want.length);
      for (let i = 0; i < n; i++) expect(k.str(k.exports.region(i))).toBe(want[i]);
      expect(k.str(k.exports.cmdline())).toBe('console=ttyS0 skiff.test=1 quoted="a b"');
      expect(k.str(k.exports.problems())).toBe("");
      expect(k.exports.protocol()).toBe(1);
      expect(k.str(k.exports.bootloader())).toMatch(/^PVH v\d+$/);
      // 128 MiB guest: the highest RAM region ends near 128 MiB.
      const ends = want.filter((r) => r.endsWith(":1")).map((r) => { const [b, l] = r.split(":")[0].split("+"); return BigInt(b) + BigInt(l); });
      const top = ends.reduce((a, b) => (a > b ? a : b), 0n);
      expect(top > 120n << 20n && top <= 128n << 20n).toBe(true);
    });
  }

  it("reports a bad magic instead of aborting", async () => {
    const { k, n } = await boot(1, 0x1000n, [{ base: 0x1000n, bytes: new Uint8Array(56).fill(0x41) }]);
    expect(n).toBe(0);
    expect(k.str(k.exports.problems())).toMatch(/bad magic/);
  });

  it("caps an absurd memory-map count and survives an unmapped table", async () => {
    const smp = samples["pvh-microvm"];
    const si = hex(smp.start_info);
    new DataView(si.buffer).setUint32(48, 0xffffffff, true);
    const { k, n } = await boot(1, BigInt(smp.addr), [{ base: BigInt(smp.addr), bytes: si }]);
    expect(n).toBe(0);
    expect(k.str(k.exports.problems())).toMatch(/4294967295 entries.*unreadable/);
  });
});

/** Multiboot2 boot information per the spec: cmdline, boot loader name, mmap, end. */
function mb2Sample(cmd: string, extra: Buffer[] = []): Uint8Array {
  const tags: Buffer[] = [];
  const tag = (type: number, payload: Buffer) => {
    const size = 8 + payload.length;
    const b = Buffer.alloc((size + 7) & ~7);
    b.writeUInt32LE(type, 0); b.writeUInt32LE(size, 4); payload.copy(b, 8);
    tags.push(b);
  };
  tag(1, Buffer.from(cmd + "\0"));
  tag(2, Buffer.from("GRUB 2.06\0"));
  const mm = Buffer.alloc(8 + 3 * 24);
  mm.writeUInt32LE(24, 0); mm.writeUInt32LE(0, 4);
  const ent = (i: number, base: bigint, len: bigint, type: number) => {
    mm.writeBigUInt64LE(base, 8 + i * 24); mm.writeBigUInt64LE(len, 16 + i * 24); mm.writeUInt32LE(type, 24 + i * 24);
  };
  ent(0, 0n, 0x9fc00n, 1); ent(1, 0xf0000n, 0x10000n, 2); ent(2, 0x100000n, 0x7ee0000n, 1);
  tag(6, mm);
  for (const e of extra) tag(e.readUInt32LE(0), e.subarray(4));
  tag(0, Buffer.alloc(0));
  const body = Buffer.concat(tags);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(8 + body.length, 0);
  return Uint8Array.from(Buffer.concat([head, body]));
}

describe("Multiboot2 tags", () => {
  it("parses command line, boot loader and memory map", async () => {
    const { k, n } = await boot(2, 0x10000n, [{ base: 0x10000n, bytes: mb2Sample("skiff.mode=grub  x=1") }]);
    expect(n).toBe(3);
    expect(k.str(k.exports.region(2))).toBe("0x100000+0x7ee0000:1");
    expect(k.str(k.exports.cmdline())).toBe("skiff.mode=grub  x=1");
    expect(k.str(k.exports.bootloader())).toBe("GRUB 2.06");
    expect(k.str(k.exports.cmdlineText())).toBe("skiff.mode=grub  x=1");
    expect(k.exports.protocol()).toBe(2);
    expect(k.exports.rsdpCopyLength()).toBe(-1);
  });

  it("keeps the RSDP an ACPI tag carries (the information block is gone once linear memory starts)", async () => {
    const rsdp = Buffer.concat([Buffer.from([14, 0, 0, 0]), Buffer.from("RSD PTR "), Buffer.alloc(12, 7)]);   // type 14, 20 bytes
    const { k } = await boot(2, 0x10000n, [{ base: 0x10000n, bytes: mb2Sample("a", [rsdp]) }]);
    expect(k.exports.rsdpCopyLength()).toBe(20);
    expect(k.exports.rsdp()).toBe(0n);
  });

  it("decodes a UTF-8 command line (the ASCII fast path must not mangle it)", async () => {
    const { k } = await boot(2, 0x10000n, [{ base: 0x10000n, bytes: mb2Sample('name="héllo ✓" x=1') }]);
    expect(k.str(k.exports.cmdlineText())).toBe('name="héllo ✓" x=1');
    expect(k.str(k.exports.cmdline())).toBe('name="héllo ✓" x=1');
  });

  it("stops at a tag whose size runs past the end", async () => {
    const b = mb2Sample("a");
    new DataView(b.buffer).setUint32(8 + 4, 9999, true);   // first tag's size
    const { k, n } = await boot(2, 0x10000n, [{ base: 0x10000n, bytes: b }]);
    expect(n).toBe(0);
    expect(k.str(k.exports.problems())).toMatch(/bad size 9999/);
  });

  it("survives random bytes as boot information (the parser under ASan, the record in the kernel)", async () => {
    const host = new FakeHost({ bootRecord: RECORD });
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const { k } = await kernelWith(host);
    for (let trial = 0; trial < 50; trial++) {
      const b = Uint8Array.from({ length: 512 }, rnd);
      new DataView(b.buffer).setUint32(0, 16 + (trial * 37) % 600, true);
      for (const protocol of [2, 1]) {
        const rec = bootRecord(protocol, 0x20000n, [{ base: 0x20000n, bytes: b }]);
        host.phys = [{ base: RECORD, bytes: rec }];
        const r = k.run(() => k.exports.parse(RECORD));
        expect(r.exit).toBeUndefined();
      }
    }
  });
});

describe("the kernel's reading of the record", () => {
  it("no record, or not one (bad magic), is 'no boot information', not a crash", async () => {
    const { k } = await kernelWith(new FakeHost());
    expect(k.exports.parse(0n)).toBe(0);
    expect(k.str(k.exports.problems())).toBe("no boot record from the loader");
    const host = new FakeHost();
    host.addPhys(RECORD, new Uint8Array(7528).fill(0x41));
    const { k: k2 } = await kernelWith(host);
    expect(k2.exports.parse(RECORD)).toBe(0);
    expect(k2.exports.protocol()).toBe(0);
  });

  it("clamps counts a corrupt record claims to its buffers", async () => {
    const rec = bootRecord(2, 0x10000n, [{ base: 0x10000n, bytes: mb2Sample("x=1") }]);
    const dv = new DataView(rec.buffer);
    dv.setUint32(12, 0xffffffff, true);   // cmdline_len
    dv.setUint32(16, 0xffffffff, true);   // memmap_count
    dv.setUint32(28, 0xffffffff, true);   // problem_count
    const host = new FakeHost();
    host.addPhys(RECORD, rec);
    const { k } = await kernelWith(host);
    const r = k.run(() => k.exports.parse(RECORD));
    expect(r.exit).toBeUndefined();
    expect(k.exports.parse(RECORD)).toBe(128);
    // 4096 bytes: "x=1", then the record's bytes past the string (not ASCII: decoded as UTF-8).
    const line = k.str(k.exports.cmdline());
    expect(line.startsWith("x=1")).toBe(true);
    expect(Buffer.byteLength(line, "utf8")).toBeLessThanOrEqual(3 * 4096);
  });

  it("an unknown protocol is reported as such", async () => {
    const { k, n } = await boot(0, 0n, []);
    expect(n).toBe(0);
    expect(k.str(k.exports.problems())).toMatch(/neither PVH nor Multiboot2/);
  });
});

describe("command line", () => {
  it("splits words, keys, flags and quoted values", async () => {
    const { k, s } = await kernelWith(new FakeHost());
    expect(k.exports.parseCmdline(s(' ip=10.0.0.2/24  quiet name="two words" virtio_mmio.device=512@0xfeb00000:12 virtio_mmio.device=512@0xfeb00200:13 ip=1.2.3.4 ')))
      .toBe(6);
    expect(k.str(k.exports.cmdGet(s("ip")))).toBe("1.2.3.4");
    expect(k.str(k.exports.cmdGet(s("quiet")))).toBe("");
    expect(k.exports.cmdGet(s("missing"))).toBe(0);
    expect(k.str(k.exports.cmdGet(s("name")))).toBe("two words");
    expect(k.str(k.exports.cmdAll(s("virtio_mmio.device")))).toBe("512@0xfeb00000:12,512@0xfeb00200:13");
  });

  it("the boot path's allocation-free flag check agrees with the parser", async () => {
    const { k, s } = await kernelWith(new FakeHost());
    const lines = [
      "quiet", " quiet ", "quiet=1", "quiet=", "notquiet", "quietly", "a=quiet", 'x="a quiet"', '"quiet"', 'qu"ie"t',
      'name="two words" quiet', "memmap\tquiet\n", "", "é quiet", "q", "quiet=a=b", '"unterminated quiet',
    ];
    for (const line of lines) {
      k.exports.parseCmdline(s(line));
      for (const key of ["quiet", "q", "memmap", "x"]) {
        expect(!!k.exports.rawHas(s(line), s(key)), `${JSON.stringify(line)} has ${key}`).toBe(!!k.exports.cmdHas(s(key)));
      }
    }
    expect(k.exports.rawHas(s("a quiet b"), s("quiet"))).toBeTruthy();
    expect(k.exports.rawHas(s("a quietb"), s("quiet"))).toBeFalsy();
  });

  it("handles an unterminated quote and empty input", async () => {
    const { k, s } = await kernelWith(new FakeHost());
    expect(k.exports.parseCmdline(s('a="open b'))).toBe(1);
    expect(k.str(k.exports.cmdGet(s("a")))).toBe("open b");
    expect(k.exports.parseCmdline(s(""))).toBe(0);
  });
});

describe("console on a fake 16550", () => {
  it("the boot banner constant spells the kernel's name and version", async () => {
    const { k } = await kernelWith(new FakeHost());
    expect(k.exports.bannerMatches()).toBeTruthy();
  });

  it("programs 115200 8N1 and sends UTF-8 with CRLF", async () => {
    const host = new FakeHost();
    const { k, s } = await kernelWith(host);
    k.exports.consoleInit();
    // DLAB on, divisor 1, then 8N1 with DLAB off.
    expect(host.uart.writes.slice(0, 5).map((w) => [w.reg, w.value])).toEqual([[1, 0], [3, 0x80], [0, 1], [1, 0], [3, 3]]);
    k.exports.consolePrint(s("héllo ✓ 🚀"));
    expect(host.uart.text()).toBe("héllo ✓ 🚀\r\n");
    expect(k.str(k.exports.dmesg())).toBe("héllo ✓ 🚀\n");
  });

  it("fills a 16550A's transmit FIFO without overrunning it, asking LSR once per 16 bytes", async () => {
    const host = new FakeHost();
    host.uart.fifo = true;
    const { k, s } = await kernelWith(host);
    k.exports.consoleInit();
    const line = "0123456789abcdef".repeat(6) + "xyz";   // 99 bytes + CRLF
    k.exports.consolePrint(s(line));
    expect(host.uart.text()).toBe(line + "\r\n");
    expect(host.uart.overruns).toBe(0);
    expect(host.uart.lsrReads).toBeLessThanOrEqual(2 + Math.ceil(101 / 16));   // +init's presence check
  });

  it("prints numbers in decimal and hex without allocating (the boot log's printDec/printHex)", async () => {
    const host = new FakeHost();
    const { k } = await kernelWith(host);
    k.exports.consoleInit();
    for (const v of [0n, 9n, 10n, 0x134000n, 18446744073709551615n]) k.exports.consoleNumbers(v);
    expect(host.uart.text()).toBe(
      "0 0x0\r\n9 0x9\r\n10 0xa\r\n1261568 0x134000\r\n18446744073709551615 0xffffffffffffffff\r\n");
  });

  it("without a FIFO (16450), polls before every byte and loses none", async () => {
    const host = new FakeHost();
    const { k, s } = await kernelWith(host);
    k.exports.consoleInit();
    k.exports.consolePrint(s("no fifo here"));
    expect(host.uart.text()).toBe("no fifo here\r\n");
    expect(host.uart.overruns).toBe(0);
  });

  it("abort prints file:line:column and exits with the panic status", async () => {
    const host = new FakeHost();
    const { k } = await kernelWith(host);
    const r = k.run(() => k.exports.abortNow());
    expect(r.exit).toBe(70);
    expect(host.uart.text()).toMatch(/kernel panic: abort: test abort at test\/unit\/wasm\/bootinfo\.ts:\d+:\d+/);
  });
});
