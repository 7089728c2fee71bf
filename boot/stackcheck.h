/* boot/stackcheck.h — the check the app's code makes before each call into
 * the kernel, the runtime or the standard library (cli/lib/stackcheck.ts
 * wraps those calls in image.c): below STACK_HEADROOM above the stack's
 * guard pages, the call traps "call stack exhausted" where it is, before the
 * callee starts changing the heap's or the kernel's state, and the fault
 * ends only the guarded call (a handler, task or timer). */
#ifndef SKIFF_STACKCHECK_H
#define SKIFF_STACKCHECK_H
#include <stdint.h>

/* What the kernel, the allocator and the collector may need below the app's
 * deepest call: a collection run from memory.grow, its finalizers, a kernel
 * panic's message. */
#define STACK_HEADROOM 0x4000

extern uint8_t loader_stack_bottom[];
__attribute__((noreturn, noinline, cold)) void skiff_stack_exhausted(void);

static inline __attribute__((always_inline)) void skiff_stack_check(void) {
  uintptr_t sp;
  __asm__("mov %%rsp, %0" : "=r"(sp));
  if (__builtin_expect(sp < (uintptr_t)loader_stack_bottom + STACK_HEADROOM, 0)) skiff_stack_exhausted();
}

#ifdef SKIFF_SHADOW_LIMIT
/* AssemblyScript's shadow stack (the references running functions hold)
 * runs out too, and asc's own check then aborts at the entry of whichever
 * function crosses the line, inside the kernel as easily as in the app. The
 * build defines where its pointer is and the mark to keep above (its bottom
 * plus SHADOW_HEADROOM in cli/lib/stackcheck.ts); `instance` is the calling
 * function's. */
#define SKIFF_STACK_CHECKED(f)                                                 \
  (skiff_stack_check(),                                                        \
   __builtin_expect(SKIFF_SHADOW_SP(instance) < SKIFF_SHADOW_LIMIT, 0) ? skiff_stack_exhausted() : (void)0, \
   f)
#else
#define SKIFF_STACK_CHECKED(f) (skiff_stack_check(), f)
#endif
#endif
