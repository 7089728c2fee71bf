// cli/lib/symbols.ts — wasm2c symbol names back to Wasm names. wasm2c emits
// w2c_<module>_<name> with characters outside [A-Za-z0-9_] (and a leading
// underscore) escaped as 0xHH; the module is always "kernel" here.

export function demangle(sym: string): string {
  // wasm2c also emits wrap_<symbol> trampolines for exported functions.
  const m = /^(?:wrap_)?w2c_kernel_(.*)$/.exec(sym);
  return m ? unescapeName(m[1]) : sym;
}

/** A name as wasm2c escaped it (0xHH for each character it may not keep) back to the Wasm name. */
export function unescapeName(s: string): string {
  return s.replace(/0x([0-9A-F]{2})/g, (_s, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A function definition in wasm2c's output: its return type, then its C name. */
export const WASM2C_FUNCTION_DEF = /^(?:static )?(?:u32|u64|f32|f64|void|v128) (w2c_kernel_\w+)\(w2c_kernel\* instance/;

/** Names the function containing addr using an unstripped ELF's symbols
 *  (image.debug.elf), for faults outside the Wasm code the guest itself names. */
export async function symbolizeFromElf(elf: string, addr: bigint): Promise<string | null> {
  const { execa } = await import("execa");
  let out: string;
  try {
    out = (await execa("nm", ["-n", "--defined-only", elf])).stdout;
  } catch {
    return null;
  }
  let best: string | null = null;
  for (const line of out.split("\n")) {
    const m = /^([0-9a-f]+)\s+[tTwW]\s+(\S+)$/.exec(line);
    if (!m) continue;
    if (BigInt("0x" + m[1]) > addr) break;
    best = m[2];
  }
  return best === null ? null : demangle(best);
}
