// kernel/console/index.ts — the kernel console: text to COM1 (UTF-8, "\n" sent
// as "\r\n" for terminals in raw mode), every byte also kept in the dmesg ring
// that the REST endpoint serves. Other sinks (virtio-console) can be added.
import { Uart16550, COM1 } from "./uart";

export { Uart16550, COM1 } from "./uart";

/** Capacity of the kernel log ring, bytes; the oldest text is overwritten. */
export const DMESG_SIZE: i32 = 16384;

/** A byte sink that the console copies its output to (e.g. virtio-console). */
export abstract class ConsoleSink {
  abstract writeByte(b: u32): void;
}

@lazy
const uart = new Uart16550(COM1);
@lazy
const ring = new StaticArray<u8>(DMESG_SIZE);
let ringHead: i32 = 0;       // next write position
let ringFilled: bool = false;
let extraSink: ConsoleSink | null = null;

export function init(): void {
  uart.init();
}

export function addSink(sink: ConsoleSink): void {
  extraSink = sink;
}

function emitByte(b: u32): void {
  unchecked(ring[ringHead] = <u8>b);
  ringHead++;
  if (ringHead == DMESG_SIZE) { ringHead = 0; ringFilled = true; }
  if (b == 0x0a) uart.putByte(0x0d);
  uart.putByte(b);
  const s = extraSink;
  if (s) s.writeByte(b);
}

/** Writes s as UTF-8. Lone surrogates become U+FFFD. */
export function print(s: string): void {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = <u32>s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
      const d = <u32>s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
    if (c < 0x80) emitByte(c);
    else if (c < 0x800) { emitByte(0xc0 | (c >> 6)); emitByte(0x80 | (c & 0x3f)); }
    else if (c < 0x10000) {
      emitByte(0xe0 | (c >> 12)); emitByte(0x80 | ((c >> 6) & 0x3f)); emitByte(0x80 | (c & 0x3f));
    } else {
      emitByte(0xf0 | (c >> 18)); emitByte(0x80 | ((c >> 12) & 0x3f));
      emitByte(0x80 | ((c >> 6) & 0x3f)); emitByte(0x80 | (c & 0x3f));
    }
  }
}

export function println(s: string): void {
  print(s);
  emitByte(0x0a);
}

/** The dmesg ring's contents, oldest first, as a string (UTF-8 decoded). */
export function dmesg(): string {
  const len = ringFilled ? DMESG_SIZE : ringHead;
  const start = ringFilled ? ringHead : 0;
  const buf = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    unchecked(buf[i] = ring[(start + i) % DMESG_SIZE]);
  }
  return String.UTF8.decode(buf.buffer);
}

/** Bytes the UART could not send (a wedged or absent device). */
export function droppedBytes(): u64 {
  return uart.dropped;
}

/** A byte typed on the serial console, or -1. */
export function readByte(): i32 {
  return uart.getByte();
}
