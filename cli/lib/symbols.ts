// cli/lib/symbols.ts — wasm2c symbol names back to Wasm names. wasm2c emits
// w2c_<module>_<name> with characters outside [A-Za-z0-9_] (and a leading
// underscore) escaped as 0xHH; the module is always "kernel" here.

export function demangle(sym: string): string {
  // wasm2c also emits wrap_<symbol> trampolines for exported functions.
  const m = /^(?:wrap_)?w2c_kernel_(.*)$/.exec(sym);
  if (!m) return sym;
  return m[1].replace(/0x([0-9A-F]{2})/g, (_s, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
