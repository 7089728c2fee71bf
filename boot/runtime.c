/*
 * boot/runtime.c — the freestanding Wasm runtime under wasm2c's output:
 * linear memory placement and growth, tables, traps, and the handful of libc
 * routines the generated code calls. Matches boot/include/wasm-rt.h (wabt 1.0.39).
 */
#include <stdint.h>
#include <string.h>
#include <math.h>
#include "wasm-rt.h"
#include "layout.h"
#include "hostif.h"
#include "serial.h"
#include "paging.h"
#include "bootinfo.h"
#include "runtime.h"
#include "stackcheck.h"
#include "hostif_inline.h"

uint32_t wasm_rt_call_stack_depth;

__attribute__((noreturn)) static void report_heap_exhausted(uintptr_t rip);
extern const struct skiff_sym skiff_syms[];
extern const char skiff_symstr[];

/* Linear memory starts at the first page boundary after the image and may grow
 * up to linear_limit_bytes: the end of the RAM region holding it, which the
 * loader reads from the boot memory map before the module starts and the
 * kernel may lower (host import memory_limit). With no map, only the initial
 * pages exist. */
static uint64_t linear_limit_bytes;
static wasm_rt_memory_t *the_memory;


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

/* Inside a guarded call (an app's request handler, task or timer) growth
 * stops this far below the limit, so the kernel keeps room to answer, log and
 * serve after the app has filled the heap. Set by the kernel (memory_reserve). */
static uint64_t guarded_reserve_bytes;

void linear_set_reserve(uint64_t bytes) { guarded_reserve_bytes = bytes; }

/* Collection under pressure. AssemblyScript's collector starts a cycle when
 * the heap has doubled since the last one, so with an app holding most of
 * memory, garbage is not collected until it has eaten the kernel's reserve.
 * When linear memory is about to grow into the last pressure_zone_bytes
 * before its limit, the loader first calls the kernel's collector (table
 * entry pressure_collect_fn with its argument; host import memory_pressure):
 * once per growth, never from inside itself. Safe at the two places that
 * grow memory: the allocator's growMemory, before it has changed anything and
 * where the collector's own incremental steps may already run a whole cycle
 * (every caller has its references on the shadow stack), and the kernel's
 * page pool (kernel/core/mm/pages.ts), whose only reference is itself, held by a
 * global. */
static uint32_t pressure_collect_fn, pressure_collect_arg;
static bool pressure_collect_set, pressure_collecting;
static uint64_t pressure_zone_bytes, pressure_collected_at;

void linear_set_pressure(uint32_t fn, uint32_t arg, uint64_t zone_bytes) {
  pressure_collect_fn = fn;
  pressure_collect_arg = arg;
  pressure_zone_bytes = zone_bytes;
  pressure_collect_set = true;
}

extern wasm_rt_funcref_table_t *skiff_func_table;

static void collect_under_pressure(wasm_rt_memory_t *mem, uint64_t new_bytes) {
  if (!pressure_collect_set || pressure_collecting || mem->size <= pressure_collected_at) return;
  if (new_bytes + pressure_zone_bytes <= linear_limit_bytes) return;
  wasm_rt_funcref_table_t *t = skiff_func_table;
  if (!t || pressure_collect_fn >= t->size || !t->data[pressure_collect_fn].func) return;
  pressure_collecting = true;
  ((void (*)(void *, uint32_t))t->data[pressure_collect_fn].func)(t->data[pressure_collect_fn].module_instance, pressure_collect_arg);
  pressure_collecting = false;
  pressure_collected_at = mem->size;
}

/* The last refused growth, for telling heap exhaustion from any other
 * `unreachable`: AssemblyScript's allocator (TLSF growMemory) executes
 * `unreachable` right after memory.grow failed, in the same function. */
static int32_t grow_refused_sym = -1;
static uint64_t grow_refused_bytes;

static uint64_t refused_doubling;

uint64_t wasm_rt_grow_memory(wasm_rt_memory_t *mem, uint64_t delta) {
  /* Growing before the kernel has read the memory map (a static initialiser
   * that allocates): take the bound from the boot protocol now. Done lazily,
   * an image whose start function does not grow memory never pays for it. */
  if (!limit_set) {
    uint64_t limit = loader_ram_limit();
    linear_set_limit(limit > mem->size ? limit : mem->size);
  }
  uint64_t old = mem->pages, pages = old + delta;
  /* The AssemblyScript heap (TLSF) asks to double linear memory when no free
   * block fits, and asks for just what it needs when that is refused. Linear
   * memory is shared with the kernel's page pool and never shrinks, so a
   * doubling would give the heap, for good, as much again as everything the
   * kernel holds. Refuse a doubling beyond 1 MiB once; the same request
   * repeated at once (an allocation as large as memory itself) is granted. */
  if (delta == old && delta > 16 && refused_doubling != delta) {
    refused_doubling = delta;
    return (uint64_t)-1;
  }
  refused_doubling = 0;
  if (delta > 0) collect_under_pressure(mem, (mem->pages + delta) * mem->page_size);
  uint64_t limit = linear_limit_bytes;
  if (guard_active() && limit > mem->size + guarded_reserve_bytes) limit -= guarded_reserve_bytes;
  else if (guard_active()) limit = mem->size;
  if (pages < old || pages > mem->max_pages || pages > 65536 ||
      pages * mem->page_size > limit) {
    grow_refused_sym = symbol_index_for((uintptr_t)__builtin_return_address(0) - 1);
    grow_refused_bytes = delta * mem->page_size;
    return (uint64_t)-1;
  }
  grow_refused_sym = -1;
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
/* The module's first table: AssemblyScript's function table, through which
 * guarded_call (loader.c) calls back into the kernel. */
wasm_rt_funcref_table_t *skiff_func_table;

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t elements,
                                    uint32_t max_elements) {
  if (elements > skiff_table_arena_len - table_used)
    loader_fail("Wasm function table larger than reserved at build time");
  if (!skiff_func_table) skiff_func_table = t;
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

/* The length of a symbol's name without the suffix gcc gives the pieces and
 * clones of a function (f37.part.0, f37.isra.0, f37.constprop.0, f37.cold). */
static size_t base_name_length(const char *n) {
  static const char *const suffixes[] = {".part.", ".isra.", ".constprop.", ".cold"};
  size_t len = strlen(n);
  for (size_t i = 1; i < len; i++) {
    if (n[i] != '.') continue;
    for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
      size_t m = strlen(suffixes[k]);
      if (i + m <= len && memcmp(n + i, suffixes[k], m) == 0) return i;
    }
  }
  return len;
}

/* Whether two symbols belong to one Wasm function. */
static bool same_wasm_function(int32_t a, int32_t b) {
  if (a < 0 || b < 0) return false;
  if (a == b) return true;
  const char *x = &skiff_symstr[skiff_syms[a].name], *y = &skiff_symstr[skiff_syms[b].name];
  size_t lx = base_name_length(x), ly = base_name_length(y);
  return lx == ly && memcmp(x, y, lx) == 0;
}

/* The generated code calls this at the faulting instruction, so our return
 * address lies inside the Wasm function that trapped. */
__attribute__((noreturn, noinline)) void wasm_rt_trap(wasm_rt_trap_t trap) {
  uintptr_t rip = (uintptr_t)__builtin_return_address(0) - 1;
  if (trap == WASM_RT_TRAP_UNREACHABLE && grow_refused_sym >= 0 && same_wasm_function(symbol_index_for(rip), grow_refused_sym))
    report_heap_exhausted(rip);
  report_trap(wasm_rt_strerror(trap), rip);
}

/* The app's code was about to call into the kernel, the runtime or the
 * standard library with less than STACK_HEADROOM of stack left
 * (boot/stackcheck.h): the fault is at that call, in the app's function. */
__attribute__((noreturn, noinline, cold)) void skiff_stack_exhausted(void) {
  report_trap(wasm_rt_strerror(WASM_RT_TRAP_EXHAUSTION), (uintptr_t)__builtin_return_address(0) - 1);
}

/* The allocator could not grow linear memory. Inside a guarded call it fails
 * that call (FAULT_OOM); anywhere else the kernel itself is out of memory. */
__attribute__((noreturn)) static void report_heap_exhausted(uintptr_t rip) {
  uint64_t size = linear_size();
  uint64_t limit = linear_limit_bytes;
  if (guard_active()) {
    fault_begin(FAULT_OOM);
    fault_puts("out of memory: the heap could not grow by ");
    fault_putdec(grow_refused_bytes >> 10);
    fault_puts(" KiB (linear memory ");
    fault_putdec(size >> 10);
    fault_puts(" KiB, app limit ");
    fault_putdec((limit > guarded_reserve_bytes ? limit - guarded_reserve_bytes : 0) >> 10);
    fault_puts(" KiB, ");
    fault_putdec(guarded_reserve_bytes >> 10);
    fault_puts(" KiB kept for the kernel)");
    fault_put_where(rip);
    guard_unwind(FAULT_OOM);
  }
  kputs("\r\n*** kernel panic: out of memory: the Wasm heap could not grow by ");
  kput_dec(grow_refused_bytes >> 10);
  kputs(" KiB (linear memory ");
  kput_dec(size >> 10);
  kputs(" KiB of ");
  kput_dec(limit >> 10);
  kputs(" KiB) outside any request or task");
  const char *fn = symbol_for(rip);
  if (fn) {
    kputs(", allocating in ");
    kputs(fn);
  }
  kputs("\r\n");
  guest_exit(EXIT_PANIC);
}

/* Also reached from the page-fault handler for a load or store in the guard
 * region (boot/paging.c), with the faulting instruction's address. */
__attribute__((noreturn)) void report_trap(const char *what, uintptr_t rip) {
  if (guard_active()) {
    fault_begin(FAULT_TRAP);
    fault_puts("wasm trap: ");
    fault_puts(what);
    fault_put_where(rip);
    guard_unwind(FAULT_TRAP);
  }
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

/* --- guarded calls: containing a fault to one request, task or timer ------ */

/* The kernel enters app code (an HTTP handler, a task's poll, a timer) through
 * the host import guarded_call (loader.c), which saves the callee-saved
 * registers, the stack pointer and the return address here and calls the
 * Wasm function. A trap, an abort or heap exhaustion inside jumps back to
 * that point (guard_unwind) and guarded_call returns a fault code instead of
 * ending the guest; the kernel restores AssemblyScript's shadow-stack pointer
 * and answers 500/503. Guards nest (a handler may run a nested loop pass). */
__asm__(
    ".pushsection .text.guard,\"ax\",@progbits\n"
    ".globl guard_save\n"
    "guard_save:\n"                    /* int guard_save(struct guard *g) */
    "  mov %rbx, 0(%rdi)\n"
    "  mov %rbp, 8(%rdi)\n"
    "  mov %r12, 16(%rdi)\n"
    "  mov %r13, 24(%rdi)\n"
    "  mov %r14, 32(%rdi)\n"
    "  mov %r15, 40(%rdi)\n"
    "  lea 8(%rsp), %rdx\n"            /* the caller's stack pointer after ret */
    "  mov %rdx, 48(%rdi)\n"
    "  mov (%rsp), %rdx\n"             /* where ret would go */
    "  mov %rdx, 56(%rdi)\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    ".globl guard_jump\n"
    "guard_jump:\n"                    /* void guard_jump(struct guard *g, int code) */
    "  cld\n"
    "  mov 0(%rdi), %rbx\n"
    "  mov 8(%rdi), %rbp\n"
    "  mov 16(%rdi), %r12\n"
    "  mov 24(%rdi), %r13\n"
    "  mov 32(%rdi), %r14\n"
    "  mov 40(%rdi), %r15\n"
    "  mov 48(%rdi), %rsp\n"
    "  mov %esi, %eax\n"
    "  jmp *56(%rdi)\n"
    ".popsection\n");

static struct guard *guard_top;
static uint32_t guard_nesting;

bool guard_active(void) { return guard_top != 0; }
uint32_t guard_depth(void) { return guard_nesting; }

void guard_push(struct guard *g) {
  g->outer = guard_top;
  guard_top = g;
  guard_nesting++;
}

void guard_pop(struct guard *g) {
  guard_top = g->outer;
  guard_nesting--;
}

/* Leaves the innermost guarded call with code (never 0). */
__attribute__((noreturn)) void guard_unwind(int code) {
  struct guard *g = guard_top;
  guard_pop(g);
  guard_jump(g, code);
}

/* What the last fault was, as text for the kernel's log (host import
 * fault_info). Plain ASCII, cut at FAULT_TEXT_MAX. */
#define FAULT_TEXT_MAX 400
static char fault_text[FAULT_TEXT_MAX + 1];
static uint32_t fault_len;
static int fault_kind;

void fault_begin(int kind) {
  fault_kind = kind;
  fault_len = 0;
  fault_text[0] = 0;
}

void fault_puts(const char *s) {
  while (*s && fault_len < FAULT_TEXT_MAX) fault_text[fault_len++] = *s++;
  fault_text[fault_len] = 0;
}

void fault_putdec(uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
  fault_puts(&buf[i]);
}

/* " in <function>" when the address is in translated Wasm code. */
void fault_put_where(uintptr_t rip) {
  const char *fn = symbol_for(rip);
  if (fn) {
    fault_puts(" in ");
    fault_puts(fn);
  }
}

const char *fault_describe(uint32_t *len) {
  *len = fault_len;
  return fault_text;
}

/* --- symbols: name the Wasm function around an address ------------------- */

extern const struct skiff_sym skiff_syms[];
extern const uint32_t skiff_nsyms;
extern const char skiff_symstr[];
extern uint8_t __wasm_text_start[], __wasm_text_end[];

/* Index of the symbol (function) holding addr, -1 outside translated code. */
int32_t symbol_index_for(uintptr_t addr) {
  uintptr_t lo = (uintptr_t)__wasm_text_start, hi = (uintptr_t)__wasm_text_end;
  if (addr < lo || addr >= hi || skiff_nsyms == 0) return -1;
  uint32_t off = (uint32_t)(addr - lo);
  /* Binary search for the last symbol starting at or before off. */
  uint32_t a = 0, b = skiff_nsyms;
  while (b - a > 1) {
    uint32_t m = (a + b) / 2;
    if (skiff_syms[m].offset <= off) a = m; else b = m;
  }
  if (skiff_syms[a].offset > off) return -1;
  return (int32_t)a;
}

const char *symbol_for(uintptr_t addr) {
  int32_t i = symbol_index_for(addr);
  return i < 0 ? 0 : &skiff_symstr[skiff_syms[i].name];
}

