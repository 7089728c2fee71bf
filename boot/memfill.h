/*
 * boot/memfill.h — filling up to 64 bytes with straight-line stores.
 *
 * Under TCG a REP STOS iteration, like every loop trip, is a separate trip
 * through a translated block, and a call and its return cost a block lookup
 * each. Most fills are short: the Wasm shadow stack's frame (20-76 bytes,
 * cleared at the entry of every function that holds managed references) and
 * a new object's fields. Two to eight possibly overlapping stores cover any
 * length up to 64 with no loop; when the length is a compile-time constant
 * (the shadow-stack frames) the branches fold away and only the stores stay.
 * The store that reaches furthest goes first (a compiler barrier keeps it
 * there): in linear memory, whose alias is followed by the guard region, a
 * fill that runs past the end faults before it has written anything, as
 * Wasm's memory.fill traps before writing. So the image's memory_fill
 * (cli/lib/build.ts, prepareImageC) needs no range check for such a fill.
 * Also used by boot/libc.c's memset.
 */
#ifndef SKIFF_MEMFILL_H
#define SKIFF_MEMFILL_H
#include <stdint.h>
#include <stddef.h>

static inline __attribute__((always_inline, unused)) void skiff_fill_upto64(uint8_t *p, uint8_t c, size_t n) {
  uint64_t v = c * 0x0101010101010101ull;
  uint32_t w = (uint32_t)v;
#define SKIFF_ST8(off) __builtin_memcpy(p + (off), &v, 8)
#define SKIFF_FIRST() __asm__ volatile("" ::: "memory")
  if (n >= 16) {
    SKIFF_ST8(n - 8); SKIFF_FIRST();
    SKIFF_ST8(n - 16);
    if (n > 32) { SKIFF_ST8(n - 24); SKIFF_ST8(n - 32); SKIFF_ST8(24); SKIFF_ST8(16); }
    SKIFF_ST8(8); SKIFF_ST8(0);
  } else if (n >= 8) {
    SKIFF_ST8(n - 8); SKIFF_FIRST(); SKIFF_ST8(0);
  } else if (n >= 4) {
    __builtin_memcpy(p + n - 4, &w, 4); SKIFF_FIRST(); __builtin_memcpy(p, &w, 4);
  } else if (n > 0) {
    p[n - 1] = c; SKIFF_FIRST();
    if (n > 2) p[1] = c;
    p[0] = c;
  }
#undef SKIFF_ST8
#undef SKIFF_FIRST
}

#endif
