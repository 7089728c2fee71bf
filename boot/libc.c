/*
 * boot/libc.c — the handful of libc routines gcc and wasm2c's output call.
 * Above serial.c only (abort and assertions report through it).
 */
#include <stdint.h>
#include <string.h>
#include <math.h>
#include "hostif.h"
#include "serial.h"
#include "memfill.h"

/* --- libc ----------------------------------------------------------------- */

/* Under TCG every iteration of a REP string instruction is a separate trip
 * through the translated block, so rep movsb costs about eight times rep
 * movsq on the packet-sized copies Wasm's memory.copy/memory.fill turn into
 * (kernel/lib/net, virtio). Copies of 64 bytes and more go 64 bytes per trip
 * instead, as straight-line 8-byte moves (each half loaded before it is
 * stored, so a forward copy to a lower, overlapping address stays right:
 * memmove relies on it); the rest eight bytes per REP iteration, then the
 * tail. */
void *memcpy(void *dst, const void *src, size_t n) {
  void *d = dst;
  size_t blocks = n >> 6;
  if (blocks) {
    __asm__ volatile(
      "1:\n\t"
      "movq 0(%[s]), %%rax\n\t"  "movq 8(%[s]), %%rdx\n\t"  "movq 16(%[s]), %%r8\n\t"  "movq 24(%[s]), %%r9\n\t"
      "movq %%rax, 0(%[d])\n\t"  "movq %%rdx, 8(%[d])\n\t"  "movq %%r8, 16(%[d])\n\t"  "movq %%r9, 24(%[d])\n\t"
      "movq 32(%[s]), %%rax\n\t" "movq 40(%[s]), %%rdx\n\t" "movq 48(%[s]), %%r8\n\t"  "movq 56(%[s]), %%r9\n\t"
      "movq %%rax, 32(%[d])\n\t" "movq %%rdx, 40(%[d])\n\t" "movq %%r8, 48(%[d])\n\t"  "movq %%r9, 56(%[d])\n\t"
      "addq $64, %[s]\n\t"
      "addq $64, %[d]\n\t"
      "decq %[b]\n\t"
      "jnz 1b"
      : [d] "+r"(d), [s] "+r"(src), [b] "+r"(blocks) : : "rax", "rdx", "r8", "r9", "memory", "cc");
    n &= 63;
  }
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

/* Up to 64 bytes: straight-line stores (boot/memfill.h). More: 64 bytes per
 * loop trip, then the last 64 bytes again (overlapping what is done). */
void *memset(void *dst, int c, size_t n) {
  uint8_t *p = dst;
  if (n <= 64) { skiff_fill_upto64(p, (uint8_t)c, n); return dst; }
  uint64_t v = (uint8_t)c * 0x0101010101010101ull;
  uint8_t *end = p + n;
  size_t blocks = n >> 6;
  __asm__ volatile(
    "1:\n\t"
    "movq %[v], 0(%[d])\n\t"  "movq %[v], 8(%[d])\n\t"  "movq %[v], 16(%[d])\n\t" "movq %[v], 24(%[d])\n\t"
    "movq %[v], 32(%[d])\n\t" "movq %[v], 40(%[d])\n\t" "movq %[v], 48(%[d])\n\t" "movq %[v], 56(%[d])\n\t"
    "addq $64, %[d]\n\t"
    "decq %[b]\n\t"
    "jnz 1b"
    : [d] "+r"(p), [b] "+r"(blocks) : [v] "r"(v) : "memory", "cc");
  if (p != end) {
    p = end - 64;
    __asm__ volatile(
      "movq %[v], 0(%[d])\n\t"  "movq %[v], 8(%[d])\n\t"  "movq %[v], 16(%[d])\n\t" "movq %[v], 24(%[d])\n\t"
      "movq %[v], 32(%[d])\n\t" "movq %[v], 40(%[d])\n\t" "movq %[v], 48(%[d])\n\t" "movq %[v], 56(%[d])"
      : : [d] "r"(p), [v] "r"(v) : "memory");
  }
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
