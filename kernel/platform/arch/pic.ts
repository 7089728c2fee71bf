// kernel/platform/arch/pic.ts — the legacy 8259A pair: remapped away from the exception
// vectors (ICW2 = 0x20/0x28, so a stray interrupt is never mistaken for a CPU
// fault) and then fully masked; the I/O APIC delivers ISA interrupts instead.
import { outb } from "..";

const PIC1_CMD: u32 = 0x20;
const PIC1_DATA: u32 = 0x21;
const PIC2_CMD: u32 = 0xa0;
const PIC2_DATA: u32 = 0xa1;

export function picDisable(): void {
  outb(PIC1_CMD, 0x11);     // ICW1: init, ICW4 follows
  outb(PIC2_CMD, 0x11);
  outb(PIC1_DATA, 0x20);    // ICW2: vector base
  outb(PIC2_DATA, 0x28);
  outb(PIC1_DATA, 0x04);    // ICW3: slave on IR2
  outb(PIC2_DATA, 0x02);
  outb(PIC1_DATA, 0x01);    // ICW4: 8086 mode
  outb(PIC2_DATA, 0x01);
  outb(PIC1_DATA, 0xff);    // OCW1: mask everything
  outb(PIC2_DATA, 0xff);
}
