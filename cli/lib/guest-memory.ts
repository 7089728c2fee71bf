// cli/lib/guest-memory.ts — is the guest given enough RAM for the image?
// The image is loaded at 1 MiB (boot/link.ld) and its code, data and stacks
// must lie in RAM before any of the loader can run: with less, QEMU starts the
// CPU in memory that is not there and the guest hangs or triple-faults without
// a word. So `skiff run` checks that against the ELF before booting; past the
// image's end the loader itself checks linear memory (loader_check_ram).
import { readFileSync } from "node:fs";
import { UserError } from "./log.js";
import { parseSize } from "./options.js";
import { EXIT } from "./status.js";

const PT_LOAD = 1;
/** One Wasm page: linear memory follows the image and has at least this. */
const WASM_PAGE = 64 * 1024;

/** The end (physical address) of the image's loadable segments, .bss and stacks included. */
export function imageEnd(elf: Uint8Array): number {
  const b = Buffer.from(elf.buffer, elf.byteOffset, elf.byteLength);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) throw new UserError("not a 64-bit ELF image");
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  let end = 0;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (p + 56 > b.length) throw new UserError("truncated ELF program headers");
    if (b.readUInt32LE(p) !== PT_LOAD) continue;
    const paddr = Number(b.readBigUInt64LE(p + 24));
    const memsz = Number(b.readBigUInt64LE(p + 40));
    end = Math.max(end, paddr + memsz);
  }
  return end;
}

/** Throws (status 73, a loader error) when memory (QEMU -m syntax) cannot
 *  hold the image and one page of linear memory. */
export function checkGuestMemory(elfPath: string, memory: string): void {
  const bytes = parseSize(memory);
  if (bytes === null) throw new UserError(`--memory ${memory}: expected a size such as 64M, 1536K or 1G (a bare number is MiB)`);
  const need = imageEnd(readFileSync(elfPath)) + WASM_PAGE;
  if (bytes < need) {
    const kib = (n: number) => `${Math.ceil(n / 1024)} KiB`;
    throw new UserError(`--memory ${memory} is too little memory for this image: it is loaded at 1 MiB and ends at ${kib(need - WASM_PAGE)}, ` +
      `and linear memory follows it, so the guest needs at least ${kib(need)} (more as the app allocates); the guest was not started`, EXIT.LOADER);
  }
}
