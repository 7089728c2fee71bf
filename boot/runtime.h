/* boot/runtime.h — the Wasm runtime under wasm2c's output (runtime.c): linear
 * memory's size and limits, guarded calls and their faults, traps, symbols.
 * Below it: bootinfo.h, paging.h, serial.h. */
#ifndef SKIFF_RUNTIME_H
#define SKIFF_RUNTIME_H
#include <stdint.h>

struct skiff_sym {
  uint32_t offset;   /* from __wasm_text_start */
  uint32_t name;     /* index into skiff_symstr */
};

const char *symbol_for(uintptr_t addr);
int32_t symbol_index_for(uintptr_t addr);
uint64_t linear_size(void);
void linear_set_limit(uint64_t bytes);
void linear_set_reserve(uint64_t bytes);
void linear_set_pressure(uint32_t fn, uint32_t arg, uint64_t zone_bytes);
__attribute__((noreturn)) void report_trap(const char *what, uintptr_t rip);

/* Guarded calls (runtime.c): where a fault inside app code jumps back to. */
struct guard {
  uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;   /* guard_save's layout */
  struct guard *outer;
};
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
#endif
