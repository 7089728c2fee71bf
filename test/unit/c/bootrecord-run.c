/*
 * test/unit/c/bootrecord-run.c — boot/bootrecord.c on the host, for
 * test/unit/bootinfo.test.ts: reads a machine's physical memory from stdin
 * (u32 protocol, u64 address, u32 segment count, then per segment u64 base,
 * u32 length and the bytes) and writes the boot record the loader would hand
 * the kernel to stdout. Reads outside the segments are unreadable, as
 * unmapped physical memory would be to the kernel.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bootrecord.h"

struct seg { uint64_t base; uint32_t len; uint8_t *bytes; };
static struct seg segs[64];
static uint32_t nsegs;

static const uint8_t *phys(uint64_t addr, uint32_t len) {
  for (uint32_t i = 0; i < nsegs; i++)
    if (addr >= segs[i].base && addr + len >= addr && addr + len <= segs[i].base + segs[i].len)
      return segs[i].bytes + (addr - segs[i].base);
  return 0;
}

static void get(void *p, size_t n) {
  if (fread(p, 1, n, stdin) != n) { fprintf(stderr, "bootrecord-run: short input\n"); exit(2); }
}

int main(void) {
  uint32_t protocol, n;
  uint64_t addr;
  get(&protocol, 4); get(&addr, 8); get(&n, 4);
  if (n > 64) return 2;
  for (nsegs = 0; nsegs < n; nsegs++) {
    get(&segs[nsegs].base, 8); get(&segs[nsegs].len, 4);
    /* Exactly the segment's bytes: a read past them is caught by ASan. */
    segs[nsegs].bytes = malloc(segs[nsegs].len ? segs[nsegs].len : 1);
    get(segs[nsegs].bytes, segs[nsegs].len);
  }
  struct boot_record *r = malloc(sizeof *r);
  memset(r, 0xee, sizeof *r);   /* what the loader's record holds before: not zero */
  boot_record_parse(r, protocol, addr, phys);
  fwrite(r, 1, sizeof *r, stdout);
  free(r);
  for (uint32_t i = 0; i < nsegs; i++) free(segs[i].bytes);
  return 0;
}
