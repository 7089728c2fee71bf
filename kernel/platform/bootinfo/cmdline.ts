// kernel/platform/bootinfo/cmdline.ts — the boot command line: space-separated words,
// each `key=value` or a bare flag; double quotes group spaces into a value
// (key="a b"). QEMU microvm and Firecracker append virtio_mmio.device= words.
// Untrusted input: any bytes parse into some list of words, never an abort.

export const MAX_CMDLINE: i32 = 4096;

export class CmdlineArg {
  constructor(public key: string, public value: string | null) {}
}

export class Cmdline {
  private parsed: CmdlineArg[] | null = null;

  constructor(public raw: string) {}

  /** The words, split on first use (printing raw needs no parse). */
  get args(): CmdlineArg[] {
    let a = this.parsed;
    if (a === null) {
      a = parseCmdline(this.raw);
      this.parsed = a;
    }
    return a;
  }

  /** The value of the last `key=value` for key, or null. A bare flag gives "". */
  get(key: string): string | null {
    const args = this.args;
    for (let i = args.length - 1; i >= 0; i--) {
      const a = unchecked(args[i]);
      if (a.key == key) {
        const v = a.value;
        return v === null ? "" : v;
      }
    }
    return null;
  }

  has(key: string): bool {
    return this.get(key) !== null;
  }

  /** Every value given for key, in order (e.g. repeated virtio_mmio.device=). */
  all(key: string): string[] {
    const out = new Array<string>();
    const args = this.args;
    for (let i = 0; i < args.length; i++) {
      const a = unchecked(args[i]);
      if (a.key == key) {
        const v = a.value;
        out.push(v === null ? "" : v);
      }
    }
    return out;
  }
}

export function parseCmdline(raw: string): CmdlineArg[] {
  const out = new Array<CmdlineArg>();
  const n = raw.length;
  let i = 0;
  while (i < n) {
    while (i < n && isSpace(raw.charCodeAt(i))) i++;
    if (i >= n) break;
    let word = "";
    let quoted = false;
    let eq = -1;
    let start = i;
    // Collect one word, dropping quote characters.
    let parts = new Array<string>();
    while (i < n) {
      const c = raw.charCodeAt(i);
      if (c == 0x22) {            // "
        parts.push(raw.substring(start, i));
        quoted = !quoted;
        i++;
        start = i;
        continue;
      }
      if (!quoted && isSpace(c)) break;
      i++;
    }
    parts.push(raw.substring(start, i));
    word = parts.join("");
    eq = word.indexOf("=");
    if (eq < 0) out.push(new CmdlineArg(word, null));
    else out.push(new CmdlineArg(word.substring(0, eq), word.substring(eq + 1)));
  }
  return out;
}

function isSpace(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

/** Whether the UTF-8 command line at [ptr, ptr + len) has a word whose key
 *  (before its first "=", quote characters dropped, as parseCmdline splits
 *  it) equals key. Allocates nothing: the boot path asks this before the
 *  heap exists. key is ASCII. */
export function wordsHave(ptr: usize, len: i32, key: string): bool {
  const k = key.length;
  let i = 0;
  while (i < len) {
    while (i < len && isSpace(<i32>load<u8>(ptr + <usize>i))) i++;
    if (i >= len) break;
    let quoted = false;
    let inKey = true;
    let matched = 0;       // key characters matched so far
    let same = true;
    while (i < len) {
      const c = <i32>load<u8>(ptr + <usize>i);
      if (c == 0x22) { quoted = !quoted; i++; continue; }
      if (!quoted && isSpace(c)) break;
      if (inKey) {
        if (c == 0x3d) inKey = false;                 // "="
        else if (matched < k && key.charCodeAt(matched) == c) matched++;
        else same = false;
      }
      i++;
    }
    if (same && matched == k) return true;
  }
  return false;
}
