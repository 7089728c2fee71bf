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
int32_t symbol_index_for(uintptr_t addr);
void linear_set_reserve(uint64_t bytes);
void linear_set_pressure(uint32_t fn, uint32_t arg, uint64_t zone_bytes);

/* Guarded calls (runtime.c): where a fault inside app code jumps back to. */
struct guard {
  uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;   /* guard_save's layout */
  struct guard *outer;
};
/* Fault codes guarded_call returns; mirrored by kernel/fault.ts. */
enum { FAULT_NONE = 0, FAULT_TRAP = 1, FAULT_ABORT = 2, FAULT_OOM = 3, GUARD_RUN_HERE = 255 };
#define GUARD_MAX_DEPTH 32
int guard_save(struct guard *g) __attribute__((returns_twice));
__attribute__((noreturn)) void guard_jump(struct guard *g, int code);
_Bool guard_active(void);
uint32_t guard_depth(void);
void guard_push(struct guard *g);
void guard_pop(struct guard *g);
__attribute__((noreturn)) void guard_unwind(int code);
void fault_begin(int kind);
void fault_puts(const char *s);
void fault_putdec(uint64_t v);
void fault_put_where(uintptr_t rip);
const char *fault_describe(uint32_t *len);

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
#endif
