// kernel/core/console/index.ts — the kernel console: text to COM1 (UTF-8, "\n" sent
// as "\r\n" for terminals in raw mode), every byte also kept in the dmesg ring
// that the REST endpoint serves. Other sinks (virtio-console) can be added.
import { uartInit, uartPut, uartGet, uartDropped } from "./uart";

export { COM1, uartPresent } from "./uart";

/** Capacity of the kernel log ring, bytes; the oldest text is overwritten. */
export const DMESG_SIZE: i32 = 16384;

/** A byte sink that the console copies its output to (e.g. virtio-console). */
export abstract class ConsoleSink {
  abstract writeByte(b: u32): void;
}

/** The dmesg ring: static memory, so printing never allocates (the boot
 *  log is written before the heap exists). */
const ring: usize = memory.data(DMESG_SIZE);
let ringHead: i32 = 0;       // next write position
let ringFilled: bool = false;
// @ts-ignore: decorator
@lazy
let extraSink: ConsoleSink | null = null;

export function init(): void {
  uartInit();
}

export function addSink(sink: ConsoleSink): void {
  extraSink = sink;
}

function emitByte(b: u32): void {
  store<u8>(ring + <usize>ringHead, <u8>b);
  ringHead++;
  if (ringHead == DMESG_SIZE) { ringHead = 0; ringFilled = true; }
  if (b == 0x0a) uartPut(0x0d);
  uartPut(b);
  const s = extraSink;
  if (s) s.writeByte(b);
}

/** Writes s as UTF-8. Lone surrogates become U+FFFD. */
export function print(s: string): void {
  // Code units read straight from the string (charCodeAt is a call with a
  // range check per character). Each code point becomes up to four UTF-8
  // bytes packed into one word, sent by a single emitByte call site: less
  // code on the boot path, where every line of it is translated once.
  const p = changetype<usize>(s);
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = <u32>load<u16>(p + (<usize>i << 1));
    let bytes: u32;
    let count: i32;
    if (c < 0x80) {
      bytes = c; count = 1;
    } else {
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
        const d = <u32>load<u16>(p + (<usize>(i + 1) << 1));
        if (d >= 0xdc00 && d < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        } else c = 0xfffd;
      } else if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      if (c < 0x800) {
        bytes = (0xc0 | (c >> 6)) | ((0x80 | (c & 0x3f)) << 8); count = 2;
      } else if (c < 0x10000) {
        bytes = (0xe0 | (c >> 12)) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16); count = 3;
      } else {
        bytes = (0xf0 | (c >> 18)) | ((0x80 | ((c >> 12) & 0x3f)) << 8) |
          ((0x80 | ((c >> 6) & 0x3f)) << 16) | ((0x80 | (c & 0x3f)) << 24);
        count = 4;
      }
    }
    for (let k = 0; k < count; k++) {
      emitByte(bytes & 0xff);
      bytes >>= 8;
    }
  }
}

export function println(s: string): void {
  print(s);
  emitByte(0x0a);
}

/** Writes v in decimal without allocating (the boot log uses these). */
export function printDec(v: u64): void {
  let div: u64 = 1;
  while (v / div >= 10) div *= 10;
  while (div > 0) {
    emitByte(0x30 + <u32>((v / div) % 10));
    div /= 10;
  }
}

/** Writes v as "0x" and lower-case hex digits, without allocating. */
export function printHex(v: u64): void {
  emitByte(0x30); emitByte(0x78);
  let shift = 60;
  while (shift > 0 && (v >> <u64>shift) == 0) shift -= 4;
  for (; shift >= 0; shift -= 4) {
    const d = <u32>((v >> <u64>shift) & 15);
    emitByte(d < 10 ? 0x30 + d : 0x57 + d);
  }
}

/** The dmesg ring's contents, oldest first, as a string (UTF-8 decoded). */
export function dmesg(): string {
  const len = ringFilled ? DMESG_SIZE : ringHead;
  const start = ringFilled ? ringHead : 0;
  const buf = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    unchecked(buf[i] = load<u8>(ring + <usize>((start + i) % DMESG_SIZE)));
  }
  return String.UTF8.decode(buf.buffer);
}

/** Bytes the UART could not send (a wedged or absent device). */
export function droppedBytes(): u64 {
  return uartDropped;
}

/** A byte typed on the serial console, or -1. */
export function readByte(): i32 {
  return uartGet();
}
