/* boot/serial.h — COM1 and ending the guest (serial.c: the bottom of the loader). */
#ifndef SKIFF_SERIAL_H
#define SKIFF_SERIAL_H
#include <stdint.h>

void serial_init(void);
void kputs(const char *s);
void kput_hex(uint64_t v);
void kput_dec(uint64_t v);
__attribute__((noreturn)) void guest_exit(uint32_t status);
__attribute__((noreturn)) void loader_fail(const char *why);
#endif
