/* test/unit/c/mem-run.c — boot/libc.c's memcpy, memmove and memset (renamed
 * t_memcpy ... by test/unit/mem.test.ts, which prepends them) and
 * boot/memfill.h, checked byte for byte against plain loops for every
 * length up to 300 at every alignment, with guard bytes around the target. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include "memfill.h"

void *t_memcpy(void *dst, const void *src, size_t n);
void *t_memmove(void *dst, const void *src, size_t n);
void *t_memset(void *dst, int c, size_t n);

#define CAP 400
static uint8_t buf[CAP + 64], want[CAP + 64], src[CAP + 64];
static int failures;

static void fill_pattern(uint8_t *b, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(seed * 131 + i * 7 + 1);
}

static void check(const char *what, size_t off, size_t n) {
  for (size_t i = 0; i < sizeof buf; i++) {
    if (buf[i] != want[i]) {
      if (failures++ < 10) printf("FAIL %s off %zu n %zu: byte %zu is %u, want %u\n", what, off, n, i, buf[i], want[i]);
      return;
    }
  }
}

int main(void) {
  for (size_t n = 0; n <= 300; n++) {
    for (size_t off = 0; off < 8; off++) {
      /* memset, and the header's inline fill (n <= 64) */
      for (int k = 0; k < 2; k++) {
        if (k == 1 && n > 64) break;
        fill_pattern(buf, sizeof buf, (unsigned)(n + off));
        fill_pattern(want, sizeof want, (unsigned)(n + off));
        for (size_t i = 0; i < n; i++) want[16 + off + i] = 0x5c;
        if (k == 0) { if (t_memset(buf + 16 + off, 0x5c, n) != buf + 16 + off) printf("FAIL memset return\n"), failures++; }
        else skiff_fill_upto64(buf + 16 + off, 0x5c, n);
        check(k == 0 ? "memset" : "skiff_fill_upto64", off, n);
      }
      /* memcpy from another buffer, at every source alignment too */
      for (size_t soff = 0; soff < 8; soff += 3) {
        fill_pattern(src, sizeof src, 99);
        fill_pattern(buf, sizeof buf, 5);
        fill_pattern(want, sizeof want, 5);
        for (size_t i = 0; i < n; i++) want[16 + off + i] = src[soff + i];
        t_memcpy(buf + 16 + off, src + soff, n);
        check("memcpy", off, n);
      }
      /* memmove within one buffer, both directions, overlapping */
      for (int dir = -1; dir <= 1; dir += 2) {
        size_t d = 40 + off, s = (size_t)((long)d + dir * (long)(1 + off * 3));
        if (s + n > CAP || d + n > CAP) continue;
        fill_pattern(buf, sizeof buf, 7);
        fill_pattern(want, sizeof want, 7);
        uint8_t tmp[CAP];
        for (size_t i = 0; i < n; i++) tmp[i] = want[s + i];
        for (size_t i = 0; i < n; i++) want[d + i] = tmp[i];
        t_memmove(buf + d, buf + s, n);
        check(dir < 0 ? "memmove (dst above src)" : "memmove (dst below src)", off, n);
      }
    }
  }
  printf("%s\n", failures ? "failed" : "ok");
  return failures ? 1 : 0;
}
