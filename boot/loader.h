/* boot/loader.h — what the loader's files share. */
#ifndef SKIFF_LOADER_H
#define SKIFF_LOADER_H
#include <stdint.h>
#include "layout.h"

struct skiff_sym {
  uint32_t offset;   /* from __wasm_text_start */
  uint32_t name;     /* index into skiff_symstr */
};

void kputs(const char *s);
void kput_hex(uint64_t v);
void kput_dec(uint64_t v);
__attribute__((noreturn)) void guest_exit(uint32_t status);
__attribute__((noreturn)) void loader_fail(const char *why);
const char *symbol_for(uintptr_t addr);
uint64_t linear_base(void);
uint64_t linear_size(void);
void linear_set_limit(uint64_t bytes);
uint64_t loader_ram_limit(void);
/* Ends the guest with a loader error (status 73) saying so when the RAM holding
 * the image does not reach end (physical): called as linear memory is set up. */
void loader_check_ram(uint64_t end);
void linear_map(uint64_t base, uint64_t from, uint64_t to);
int linear_fault(uint64_t addr);
__attribute__((noreturn)) void report_trap(const char *what, uintptr_t rip);

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
#endif
