// kernel/core/console/uart.ts — 16550 UART driver for COM1, polled transmit. The always-there
// console on PC-compatible machines (COM1 at I/O port 0x3f8; QEMU pc, q35 and
// microvm all provide it). Register layout from the PC16550D data sheet.
import { inb, outb } from "../../platform";

// Register offsets from the base port (DLAB = 0 unless noted).
const THR: u32 = 0;   // transmit holding (write)
const IER: u32 = 1;   // interrupt enable; DLAB=1: divisor high byte
const DLL: u32 = 0;   // DLAB=1: divisor low byte
const FCR: u32 = 2;   // FIFO control (write)
const IIR: u32 = 2;   // interrupt identification (read): bits 7-6 = 11 when FIFOs are on
const LCR: u32 = 3;   // line control: bit 7 = DLAB, bits 0-1 = word length
const MCR: u32 = 4;   // modem control: DTR, RTS, OUT2
const LSR: u32 = 5;   // line status: bit 5 = THR empty, bit 0 = data ready
const RBR: u32 = 0;   // receive buffer (read)

const LSR_DATA_READY: u32 = 0x01;
const LSR_THR_EMPTY: u32 = 0x20;
const IIR_FIFOS_ON: u32 = 0xc0;
/** A 16550A's transmit FIFO: once LSR says it is empty, this many bytes fit
 *  without asking again. Every LSR read is a trap into the hypervisor, so
 *  asking once per 16 bytes instead of once per byte halves the exits. */
const TX_FIFO_DEPTH: i32 = 16;
/** Spins before giving up on one byte. QEMU holds THR full while its chardev
 *  backend is blocked (a host reader that is slow to drain the pipe), so wait
 *  long — seconds — before dropping; a missing or wedged UART must still not
 *  hang the kernel, so once stalled, give up quickly until it drains again. */
const TX_SPIN_LIMIT: i32 = 20_000_000;
const TX_SPIN_LIMIT_STALLED: i32 = 1000;

export const COM1: u32 = 0x3f8;

// One COM1 per machine, so the driver is module state rather than an object:
// the console reaches it before anything has been allocated (the boot path
// allocates nothing until the app does; docs/ARCHITECTURE.md, "Boot").

/** Bytes dropped because the transmitter never became ready. */
export let uartDropped: u64 = 0;
/** False when the line status register reads 0xff: no UART there. */
export let uartPresent: bool = false;
let stalled: bool = false;
/** Bytes that still fit in the transmit FIFO without polling LSR. */
let txRoom: i32 = 0;
/** TX_FIFO_DEPTH with a working FIFO; 1 on a 16450-style UART without one. */
let txDepth: i32 = 1;

/** 115200 baud, 8N1, FIFOs on, interrupts off. Detects absence by the
 *  line status register: 0xff means no device answers. */
export function uartInit(): void {
  outb(COM1 + IER, 0x00);
  outb(COM1 + LCR, 0x80);          // DLAB on
  outb(COM1 + DLL, 0x01);          // divisor 1 = 115200 baud
  outb(COM1 + IER, 0x00);
  outb(COM1 + LCR, 0x03);          // DLAB off, 8 bits, no parity, 1 stop
  outb(COM1 + FCR, 0xc7);          // enable and clear FIFOs, 14-byte threshold
  outb(COM1 + MCR, 0x03);          // DTR, RTS
  uartPresent = inb(COM1 + LSR) != 0xff;
  txDepth = uartPresent && (inb(COM1 + IIR) & IIR_FIFOS_ON) == IIR_FIFOS_ON ? TX_FIFO_DEPTH : 1;
  txRoom = 0;
}

export function uartPut(b: u32): void {
  if (txRoom == 0) {
    const limit = stalled ? TX_SPIN_LIMIT_STALLED : TX_SPIN_LIMIT;
    let spins = 0;
    while ((inb(COM1 + LSR) & LSR_THR_EMPTY) == 0) {   // in FIFO mode: the FIFO is empty
      if (++spins >= limit) {
        stalled = true;
        uartDropped++;
        return;
      }
    }
    stalled = false;
    txRoom = txDepth;
  }
  outb(COM1 + THR, b & 0xff);
  txRoom--;
}

/** A received byte, or -1 when none is waiting. */
export function uartGet(): i32 {
  if ((inb(COM1 + LSR) & LSR_DATA_READY) == 0) return -1;
  return <i32>inb(COM1 + RBR);
}
