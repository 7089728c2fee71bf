/*
 * boot/runtime.c — the freestanding Wasm runtime under wasm2c's output:
 * linear memory placement and growth, tables, traps, and the handful of libc
 * routines the generated code calls. Matches boot/include/wasm-rt.h (wabt 1.0.39).
 */
#include <stdint.h>
#include <string.h>
#include <math.h>
#include "wasm-rt.h"
#include "loader.h"
#include "hostif.h"
#include "hostif_inline.h"

uint32_t wasm_rt_call_stack_depth;

/* Linear memory starts at the first page boundary after the image and may grow
 * up to linear_limit_bytes: the end of the RAM region holding it, which the
 * loader reads from the boot memory map before the module starts and the
 * kernel may lower (host import memory_limit). With no map, only the initial
 * pages exist. */
extern uint8_t __image_end[];
static uint64_t linear_limit_bytes;
static wasm_rt_memory_t *the_memory;

uint64_t linear_base(void) {
  return ((uintptr_t)__image_end + LINEAR_ALIGN - 1) & ~(uint64_t)(LINEAR_ALIGN - 1);
}

static bool limit_set;

void linear_set_limit(uint64_t bytes) {
  if (bytes > 0x100000000ull) bytes = 0x100000000ull;   /* wasm32: 4 GiB at most */
  linear_limit_bytes = bytes;
  limit_set = true;
}

uint64_t linear_size(void) { return the_memory ? the_memory->size : 0; }

void wasm_rt_init(void) {}
bool wasm_rt_is_initialized(void) { return true; }

void wasm_rt_allocate_memory(wasm_rt_memory_t *mem, uint64_t initial_pages,
                             uint64_t max_pages, bool is64, uint32_t page_size) {
  if (the_memory || is64 || page_size != WASM_DEFAULT_PAGE_SIZE)
    loader_fail("the kernel module must have exactly one 32-bit memory with 64 KiB pages");
  uint64_t bytes = initial_pages * page_size;
  loader_check_ram(linear_base() + bytes);
  linear_map(linear_base(), 0, bytes);
  mem->data = (uint8_t *)(uintptr_t)(linear_base() + LINEAR_VIRT_OFFSET);
  /* The generated loads and stores use __linear_vbase directly (hostif_inline.h). */
  if (mem->data != skiff_linear_vbase()) loader_fail("linear memory is not at __linear_vbase (link.ld and layout.h disagree)");
  mem->page_size = page_size;
  mem->pages = initial_pages;
  mem->max_pages = max_pages;
  mem->size = bytes;
  mem->data_end = mem->data + bytes;
  mem->is64 = false;
  /* RAM after a reboot is not zero; Wasm requires fresh memory to be. */
  memset(mem->data, 0, bytes);
  the_memory = mem;
  if (linear_limit_bytes < bytes) linear_limit_bytes = bytes;
}

uint64_t wasm_rt_grow_memory(wasm_rt_memory_t *mem, uint64_t delta) {
  /* Growing before the kernel has read the memory map (a static initialiser
   * that allocates): take the bound from the boot protocol now. Done lazily,
   * an image whose start function does not grow memory never pays for it. */
  if (!limit_set) {
    uint64_t limit = loader_ram_limit();
    linear_set_limit(limit > mem->size ? limit : mem->size);
  }
  uint64_t old = mem->pages, pages = old + delta;
  if (pages < old || pages > mem->max_pages || pages > 65536 ||
      pages * mem->page_size > linear_limit_bytes)
    return (uint64_t)-1;
  uint64_t bytes = pages * mem->page_size;
  linear_map(linear_base(), mem->size, bytes);
  memset(mem->data + mem->size, 0, bytes - mem->size);
  mem->pages = pages;
  mem->size = bytes;
  mem->data_end = mem->data + bytes;
  return old;
}

void wasm_rt_free_memory(wasm_rt_memory_t *mem) { (void)mem; }

/* Tables: AssemblyScript's function table is fixed-size, so its storage is
 * reserved at build time in the generated image_meta.c. */
extern wasm_rt_funcref_t skiff_table_arena[];
extern const uint32_t skiff_table_arena_len;
static uint32_t table_used;

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t elements,
                                    uint32_t max_elements) {
  if (elements > skiff_table_arena_len - table_used)
    loader_fail("Wasm function table larger than reserved at build time");
  t->data = &skiff_table_arena[table_used];
  table_used += elements;
  t->size = elements;
  t->max_size = elements;   /* no growth: the arena is sized exactly */
  (void)max_elements;
  memset(t->data, 0, elements * sizeof(wasm_rt_funcref_t));   /* the null funcref is all zeros */
}
void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *t) { (void)t; }
uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t *t, uint32_t d,
                                    wasm_rt_funcref_t init) {
  (void)t; (void)d; (void)init;
  return UINT32_MAX;
}
void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t *t, uint32_t e,
                                      uint32_t m) {
  (void)t; (void)e; (void)m;
  loader_fail("externref tables are not supported");
}
void wasm_rt_free_externref_table(wasm_rt_externref_table_t *t) { (void)t; }
uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t *t, uint32_t d,
                                      wasm_rt_externref_t init) {
  (void)t; (void)d; (void)init;
  return UINT32_MAX;
}

const char *wasm_rt_strerror(wasm_rt_trap_t trap) {
  switch (trap) {
    case WASM_RT_TRAP_OOB: return "out of bounds memory access";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable executed";
    case WASM_RT_TRAP_CALL_INDIRECT: return "indirect call signature mismatch";
    case WASM_RT_TRAP_NULL_REF: return "null reference";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
    case WASM_RT_TRAP_UNALIGNED: return "unaligned atomic access";
    case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
    default: return "unknown trap";
  }
}

/* The generated code calls this at the faulting instruction, so our return
 * address lies inside the Wasm function that trapped. */
__attribute__((noreturn, noinline)) void wasm_rt_trap(wasm_rt_trap_t trap) {
  report_trap(wasm_rt_strerror(trap), (uintptr_t)__builtin_return_address(0) - 1);
}

/* Also reached from the page-fault handler for a load or store in the guard
 * region (boot/paging.c), with the faulting instruction's address. */
__attribute__((noreturn)) void report_trap(const char *what, uintptr_t rip) {
  kputs("\r\n*** wasm trap: ");
  kputs(what);
  const char *fn = symbol_for(rip);
  if (fn) {
    kputs(" in ");
    kputs(fn);
  }
  kputs(" (rip ");
  kput_hex(rip);
  kputs(")\r\n");
  guest_exit(EXIT_TRAP);
}

/* --- symbols: name the Wasm function around an address ------------------- */

extern const struct skiff_sym skiff_syms[];
extern const uint32_t skiff_nsyms;
extern const char skiff_symstr[];
extern uint8_t __wasm_text_start[], __wasm_text_end[];

const char *symbol_for(uintptr_t addr) {
  uintptr_t lo = (uintptr_t)__wasm_text_start, hi = (uintptr_t)__wasm_text_end;
  if (addr < lo || addr >= hi || skiff_nsyms == 0) return 0;
  uint32_t off = (uint32_t)(addr - lo);
  /* Binary search for the last symbol starting at or before off. */
  uint32_t a = 0, b = skiff_nsyms;
  while (b - a > 1) {
    uint32_t m = (a + b) / 2;
    if (skiff_syms[m].offset <= off) a = m; else b = m;
  }
  if (skiff_syms[a].offset > off) return 0;
  return &skiff_symstr[skiff_syms[a].name];
}

/* --- libc ----------------------------------------------------------------- */

/* Eight bytes per iteration, then the tail. Under TCG every iteration of a
 * REP string instruction is a separate trip through the translated block, so
 * rep movsb costs about eight times rep movsq on the packet-sized copies
 * Wasm's memory.copy/memory.fill turn into (kernel/net, virtio). */
void *memcpy(void *dst, const void *src, size_t n) {
  void *d = dst;
  size_t q = n >> 3, r = n & 7;
  __asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(q) : : "memory");
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(r) : : "memory");
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  /* Forward copies are safe whenever dst is below src (each quadword is
   * read before anything at or after it is written). */
  if ((uintptr_t)dst <= (uintptr_t)src || (uintptr_t)dst >= (uintptr_t)src + n)
    return memcpy(dst, src, n);
  /* Overlapping with dst above src: copy backwards, the tail bytes first. */
  size_t q = n >> 3, r = n & 7;
  uint8_t *d = (uint8_t *)dst + n - 1;
  const uint8_t *s = (const uint8_t *)src + n - 1;
  __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(r) : : "memory");
  d -= 7; s -= 7;
  __asm__ volatile("std; rep movsq; cld" : "+D"(d), "+S"(s), "+c"(q) : : "memory");
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  void *d = dst;
  size_t q = n >> 3, r = n & 7;
  uint64_t v = (uint8_t)c * 0x0101010101010101ull;
  __asm__ volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(v) : "memory");
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(r) : "a"(v) : "memory");
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const uint8_t *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

void abort(void) { loader_fail("abort() called"); }

void skiff_assert_fail(const char *expr, const char *file, int line) {
  kputs("\r\n*** loader assertion failed: ");
  kputs(expr);
  kputs(" at ");
  kputs(file);
  kputs(":");
  kput_dec((uint64_t)line);
  kputs("\r\n");
  guest_exit(EXIT_LOADER);
}

/* Rounding without SSE4.1's roundsd. Values of magnitude >= 2^52 (and NaN,
 * infinities) are already integral; below that, adding and subtracting 2^52
 * rounds to nearest-even in the default rounding mode. */
#define TWO52 4503599627370496.0
#define TWO23 8388608.0f

double trunc(double x) {
  if (!(fabs(x) < TWO52)) return x;
  return copysign((double)(int64_t)x, x);
}
double floor(double x) {
  double t = trunc(x);
  return t > x ? t - 1.0 : t;
}
double ceil(double x) {
  double t = trunc(x);
  return t < x ? copysign(t + 1.0, x) : t;
}
double nearbyint(double x) {
  if (!(fabs(x) < TWO52)) return x;
  volatile double big = TWO52;
  return copysign((fabs(x) + big) - big, x);
}
float truncf(float x) {
  if (!(fabsf(x) < TWO23)) return x;
  return copysignf((float)(int32_t)x, x);
}
float floorf(float x) {
  float t = truncf(x);
  return t > x ? t - 1.0f : t;
}
float ceilf(float x) {
  float t = truncf(x);
  return t < x ? copysignf(t + 1.0f, x) : t;
}
float nearbyintf(float x) {
  if (!(fabsf(x) < TWO23)) return x;
  volatile float big = TWO23;
  return copysignf((fabsf(x) + big) - big, x);
}
