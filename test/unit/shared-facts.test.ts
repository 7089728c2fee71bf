// Facts the loader (C) and the kernel or CLI (TypeScript) must agree on, each
// with one owner: the C headers for the memory layout and the values host
// imports pass, the drivers for device addresses. The other side's copies are
// read from the source here and must match; a copy that drifts fails this test.
import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "../platform/wasm.js";
import { EXIT } from "../../cli/lib/status.js";
import { BOOT_RECORD } from "../../cli/lib/hosted/bootrecord.js";

const read = (p: string) => readFileSync(join(ROOT, p), "utf8");

/** A constant expression of C or TypeScript source (numbers, shifts, | + - *, parentheses) as a BigInt. */
export function evalConst(expr: string): bigint {
  const e = expr
    .replace(/\/\*.*?\*\//g, "")
    .replace(/<\s*[ui](8|16|32|64)\s*>/g, "")                 // AssemblyScript casts
    .replace(/\b(0x[0-9a-f]+|\d+)(?:u|ul|ull|l|ll)?\b/gi, "$1n")
    .trim();
  if (!/^[0-9a-fxn\s()<>|+*\-~]+$/i.test(e) || e === "") throw new Error(`not a constant expression: ${expr}`);
  return Function(`"use strict"; return (${e});`)() as bigint;
}

/** `#define NAME value` and `enum { NAME = value, ... }` of a C header. */
export function cConstants(src: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const m of src.matchAll(/^#define[ \t]+(\w+)[ \t]+([^\n"]+?)[ \t]*(?:\/\*.*)?$/gm)) {
    try { out.set(m[1], evalConst(m[2])); } catch { /* not a number: skip */ }
  }
  for (const body of src.matchAll(/enum\s*\{([^}]*)\}/g)) {
    for (const m of body[1].matchAll(/(\w+)\s*=\s*([^,]+)/g)) out.set(m[1], evalConst(m[2]));
  }
  return out;
}

/** `const NAME: T = value;` (exported or not) of a TypeScript file. */
export function tsConstants(src: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const m of src.matchAll(/^(?:export\s+)?const\s+(\w+)\s*:\s*\w+\s*=\s*([^;]+);/gm)) {
    try { out.set(m[1], evalConst(m[2])); } catch { /* not a number: skip */ }
  }
  return out;
}

function cHeader(p: string) { return cConstants(read(p)); }
function ts(p: string) { return tsConstants(read(p)); }

/** Every name in `names` has the same value on both sides (C name → TS name). */
function expectSame(c: Map<string, bigint>, t: Map<string, bigint>, names: [string, string][], where: string) {
  for (const [cn, tn] of names) {
    expect(c.get(cn), `${cn} in the C header`).toBeDefined();
    expect(t.get(tn), `${tn} in ${where}`).toBeDefined();
    expect(t.get(tn), `${where}: ${tn} = ${cn}`).toBe(c.get(cn));
  }
}

describe("the constant readers", () => {
  it("evaluate C and TypeScript spellings of a number", () => {
    expect(evalConst("(1ull << 39)")).toBe(1n << 39n);
    expect(evalConst("0x100000 /* 1 MiB */")).toBe(0x100000n);
    expect(evalConst("<u64>4 << 30")).toBe(4n << 30n);
    expect(() => evalConst("foo + 1")).toThrow();
    expect(cConstants("#define A 0x10u\n#define S \"x\"\nenum { B = 2, C = 255 };").get("C")).toBe(255n);
    expect(tsConstants("export const X: u32 = 1 << 8;\nconst Y: i32 = 7;").get("Y")).toBe(7n);
  });
});

describe("memory layout (owner: boot/layout.h)", () => {
  const c = cHeader("boot/layout.h");
  const t = ts("kernel/core/mm/layout.ts");

  it("linear memory starts on a kernel page boundary, so pool pages are physically aligned for DMA", () => {
    const align = c.get("LINEAR_ALIGN")!, page = t.get("PAGE_SIZE")!;
    expect(page).toBe(1n << t.get("PAGE_SHIFT")!);
    expect(align % page).toBe(0n);
  });

  it("the kernel's Wasm page is the runtime's (wasm-rt.h)", () => {
    expect(t.get("WASM_PAGE_SIZE")).toBe(cHeader("boot/include/wasm-rt.h").get("WASM_DEFAULT_PAGE_SIZE"));
  });

  it("the interrupt stubs sit where layout.h says and link.ld asserts", () => {
    const isr = c.get("ISR_BASE")!;
    expect(isr).toBe(c.get("IMAGE_BASE"));
    const ld = /ASSERT\(isr_stubs == (0x[0-9a-f]+)/.exec(read("boot/link.ld"));
    expect(BigInt(ld![1])).toBe(isr);
  });

  it("the kernel keeps no copy of the loader's addresses", () => {
    for (const name of ["IMAGE_BASE", "LINEAR_ALIGN", "IDENTITY_MAP", "LINEAR_VIRT_OFFSET"]) {
      expect(read("kernel/core/mm/layout.ts")).not.toContain(name);
    }
  });
});

describe("values host imports pass (owner: boot/hostif.h)", () => {
  const h = cHeader("boot/hostif.h");

  it("exit statuses: kernel/platform/exit.ts and cli/lib/status.ts", () => {
    const names: [string, string][] = [["EXIT_SUCCESS_CODE", "EXIT_SUCCESS"], ["EXIT_PANIC", "EXIT_PANIC"], ["EXIT_TRAP", "EXIT_TRAP"],
      ["EXIT_FAULT", "EXIT_FAULT"], ["EXIT_LOADER", "EXIT_LOADER"], ["EXIT_REBOOT", "EXIT_REBOOT"]];
    expectSame(h, ts("kernel/platform/exit.ts"), names, "kernel/platform/exit.ts");
    const cli = new Map(Object.entries(EXIT).map(([k, v]) => [`EXIT_${k}`, BigInt(v)]));
    expectSame(h, cli, names, "cli/lib/status.ts");
    expect(ts("kernel/platform/exit.ts").get("DEBUG_EXIT_PORT")).toBe(h.get("DEBUG_EXIT_PORT"));
  });

  it("boot protocols: kernel/platform/bootinfo", () => {
    expect(read("kernel/platform/bootinfo/record.ts")).toContain('from "./protocol"');
    expectSame(h, ts("kernel/platform/bootinfo/protocol.ts"), [["BOOT_UNKNOWN", "BOOT_UNKNOWN"], ["BOOT_PVH", "BOOT_PVH"], ["BOOT_MULTIBOOT2", "BOOT_MULTIBOOT2"]],
      "kernel/platform/bootinfo/protocol.ts");
  });

  it("EOI modes: kernel/platform/arch/lapic.ts, and entry.S compares against the names", () => {
    expectSame(h, ts("kernel/platform/arch/lapic.ts"), [["EOI_NONE", "EOI_NONE"], ["EOI_XAPIC", "EOI_XAPIC"], ["EOI_X2APIC", "EOI_X2APIC"]], "kernel/platform/arch/lapic.ts");
    const entry = read("boot/entry.S");
    expect(entry).toMatch(/cmpl \$EOI_XAPIC, %ecx/);
    expect(entry).toMatch(/cmpl \$EOI_X2APIC, %ecx/);
  });

  it("fault codes of guarded calls: kernel/core/fault.ts", () => {
    expectSame(h, ts("kernel/core/fault.ts"),
      ["FAULT_NONE", "FAULT_TRAP", "FAULT_ABORT", "FAULT_OOM", "GUARD_RUN_HERE"].map((n) => [n, n] as [string, string]), "kernel/core/fault.ts");
  });
});

describe("the boot record (owner: boot/bootrecord.h)", () => {
  const c = cHeader("boot/bootrecord.h");
  const k = ts("kernel/platform/bootinfo/record.ts");
  const offsets = [...c.keys()].filter((n) => n.startsWith("BOOT_REC_") && n !== "BOOT_REC_SIZE");

  it("the kernel reads it at the loader's offsets", () => {
    expect(offsets.length).toBeGreaterThanOrEqual(15);
    expectSame(c, k, offsets.map((n) => [n, n] as [string, string]), "kernel/platform/bootinfo/record.ts");
    expectSame(c, k, ["BOOT_RECORD_MAGIC", "BOOT_NAME_MAX", "BOOT_RSDP_MAX", "BOOT_PROBLEMS_MAX"].map((n) => [n, n] as [string, string]), "kernel/platform/bootinfo/record.ts");
    const kinds = [...c.keys()].filter((n) => n.startsWith("BOOT_P_"));
    expect(kinds.length).toBe(9);
    expectSame(c, k, kinds.map((n) => [n, n] as [string, string]), "kernel/platform/bootinfo/record.ts");
  });

  it("its arrays are as large as the kernel's buffers", () => {
    expect(ts("kernel/platform/bootinfo/cmdline.ts").get("MAX_CMDLINE")).toBe(c.get("BOOT_CMDLINE_MAX"));
    expect(ts("kernel/platform/bootinfo/memmap.ts").get("MAX_MEMMAP_ENTRIES")).toBe(c.get("BOOT_MEMMAP_MAX"));
    // Each array ends where the next begins, the last at the record's end.
    expect(c.get("BOOT_REC_NAME")! + c.get("BOOT_NAME_MAX")!).toBe(c.get("BOOT_REC_RSDP"));
    expect(c.get("BOOT_REC_RSDP")! + c.get("BOOT_RSDP_MAX")!).toBe(c.get("BOOT_REC_MEMMAP"));
    expect(c.get("BOOT_REC_PROBLEMS")! + 24n * c.get("BOOT_PROBLEMS_MAX")!).toBe(c.get("BOOT_REC_NAME"));
    expect(c.get("BOOT_REC_MEMMAP")! + c.get("BOOT_REC_ENTRY_BYTES")! * c.get("BOOT_MEMMAP_MAX")!).toBe(c.get("BOOT_REC_CMDLINE"));
    expect(c.get("BOOT_REC_CMDLINE")! + c.get("BOOT_CMDLINE_MAX")!).toBe(c.get("BOOT_REC_SIZE"));
  });

  it("skiff dev writes it at the same offsets (cli/lib/hosted/bootrecord.ts)", () => {
    const dev = new Map(Object.entries(BOOT_RECORD).map(([n, v]) => [n, BigInt(v)]));
    expectSame(c, dev, [["BOOT_RECORD_MAGIC", "MAGIC"], ["BOOT_REC_SIZE", "SIZE"], ["BOOT_REC_PROTOCOL", "PROTOCOL"],
      ["BOOT_REC_PVH_VERSION", "PVH_VERSION"], ["BOOT_REC_CMDLINE_LEN", "CMDLINE_LEN"], ["BOOT_REC_MEMMAP_COUNT", "MEMMAP_COUNT"],
      ["BOOT_REC_MEMMAP", "MEMMAP"], ["BOOT_REC_CMDLINE", "CMDLINE"], ["BOOT_CMDLINE_MAX", "CMDLINE_MAX"], ["BOOT_REC_ENTRY_BYTES", "ENTRY_BYTES"]],
    "cli/lib/hosted/bootrecord.ts");
  });

  it("the protocols' own structures are parsed in one place (boot/bootrecord.c)", () => {
    // The PVH magic and the Multiboot2 tag walk appear nowhere in the kernel.
    for (const f of kernelFiles()) {
      const t = read(f);
      expect(t, f).not.toMatch(/0x336ec578|\bMB2_TAG_|hvm_start_info/i);
    }
  });
});

function kernelFiles(dir = "kernel"): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir))) {
    const p = join(dir, e);
    if (statSync(join(ROOT, p)).isDirectory()) out.push(...kernelFiles(p));
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

describe("device addresses (owner: the driver)", () => {
  // name → where it is declared, for every physical-address constant in the kernel.
  const decls: { name: string; file: string; value: bigint }[] = [];
  for (const f of kernelFiles()) {
    for (const [name, value] of ts(f)) {
      if (/_BASE$|_ADDR(ESS)?(_BASE)?$/.test(name) && value >= 0xfe000000n && value < 0x100000000n) decls.push({ name, file: relative(ROOT, join(ROOT, f)), value });
    }
  }

  it("the LAPIC and I/O APIC default bases are declared once each, by their drivers", () => {
    const where = (n: string) => decls.filter((d) => d.name === n).map((d) => d.file);
    expect(where("DEFAULT_LAPIC_BASE")).toEqual(["kernel/platform/arch/lapic.ts"]);
    expect(where("DEFAULT_IOAPIC_BASE")).toEqual(["kernel/platform/arch/ioapic.ts"]);
    expect(decls.find((d) => d.name === "DEFAULT_LAPIC_BASE")!.value).toBe(0xfee00000n);    // SDM vol. 3 §10.4.1
    expect(decls.find((d) => d.name === "DEFAULT_IOAPIC_BASE")!.value).toBe(0xfec00000n);   // the I/O APIC's reset base
  });

  it("no other constant repeats a device address", () => {
    // The MSI address window (SDM vol. 3 §10.11.1) is fixed by the architecture,
    // not by where the LAPIC sits (which may be moved): a different fact.
    const seen = new Map<bigint, string>();
    for (const d of decls) {
      if (d.name === "MSI_ADDRESS_BASE") continue;
      expect(seen.get(d.value), `${d.name} (${d.file}) repeats 0x${d.value.toString(16)}`).toBeUndefined();
      seen.set(d.value, `${d.file}:${d.name}`);
    }
    expect(seen.size).toBeGreaterThanOrEqual(2);
  });
});
