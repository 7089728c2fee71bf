/*
 * boot/serial.c — the bottom of the loader: COM1 for its own messages, and
 * ending the guest. Everything else in boot/ may call these; they call nothing
 * of the loader's. The loader's files form a line, each calling only those
 * below it:
 *
 *   serial.c ← libc.c ← paging.c ← bootrecord.c ← bootinfo.c ← runtime.c ← loader.c
 *
 * (entry.S jumps into loader_main; the interrupt stubs into loader.c.)
 */
#include <stdint.h>
#include "io.h"
#include "hostif.h"
#include "serial.h"

/* --- COM1, polled: only for the loader's own fatal messages -------------- */

#define COM1 0x3f8
void serial_init(void) {
  outb(COM1 + 1, 0x00);   /* no interrupts */
  outb(COM1 + 3, 0x80);   /* DLAB */
  outb(COM1 + 0, 0x01);   /* 115200 baud */
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03);   /* 8N1 */
  outb(COM1 + 2, 0xc7);   /* FIFO on, cleared */
  outb(COM1 + 4, 0x03);   /* DTR, RTS */
}
static void serial_putc(char c) {
  /* Long wait: QEMU keeps THR full while the host side of the chardev is slow. */
  for (int i = 0; i < 20000000 && !(inb(COM1 + 5) & 0x20); i++) {}
  outb(COM1, (uint8_t)c);
}
void kputs(const char *s) {
  while (*s) serial_putc(*s++);
}
void kput_hex(uint64_t v) {
  char buf[19] = "0x";
  for (int i = 0; i < 16; i++) buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
  buf[18] = 0;
  kputs(buf);
}
void kput_dec(uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
  kputs(&buf[i]);
}

/* --- ending the guest ----------------------------------------------------- */

/* isa-debug-exit makes QEMU exit with (status << 1) | 1. Where there is no
 * such device (Firecracker, real clouds), the keyboard controller's reset
 * line ends the VM (Firecracker treats it as shutdown; QEMU with -no-reboot
 * exits). Last resort: halt with interrupts off. */
void guest_exit(uint32_t status) {
  outl(DEBUG_EXIT_PORT, status);
  outb(0x64, 0xfe);
  for (;;) __asm__ volatile("cli; hlt");
}

void loader_fail(const char *why) {
  kputs("\r\n*** loader: ");
  kputs(why);
  kputs("\r\n");
  guest_exit(EXIT_LOADER);
}
