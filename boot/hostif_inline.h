/*
 * boot/hostif_inline.h — the one-instruction host imports (port I/O, device
 * memory, barriers, TSC, interrupt flag), as static inline functions that the
 * build compiles into the generated image.c (cli/lib/build.ts includes this
 * header after image.h and renames the calls with the macros below). A call to
 * the loader's out-of-line copy costs a call and a return; under TCG each is a
 * translated-block boundary, and on the boot path every block is translated
 * once before it runs. boot/loader.c defines the exported w2c_host_* functions
 * with these same bodies for anything else that links against them.
 */
#ifndef SKIFF_HOSTIF_INLINE_H
#define SKIFF_HOSTIF_INLINE_H
#include <stdint.h>
#include <string.h>
#include "layout.h"
#include "wasm-rt.h"

#define SKIFF_INLINE static inline __attribute__((always_inline, unused))

/* Linear memory never moves (it grows in place, boot/runtime.c), so its
 * address is a link-time constant: __linear_vbase (boot/link.ld), the guard-
 * paged alias. Loading it as an immediate, instead of from the instance on
 * every access (gcc must reload it after any store that might alias it),
 * halves the memory operations of a Wasm load or store. Not volatile: the
 * compiler may share one copy across a function. */
static inline __attribute__((always_inline, unused)) uint8_t *skiff_linear_vbase(void) {
  uint8_t *p;
  __asm__("movabs $__linear_vbase, %0" : "=r"(p));
  return p;
}


SKIFF_INLINE uint32_t skiff_inb(uint32_t port) { uint8_t v; __asm__ volatile("inb %w1, %0" : "=a"(v) : "Nd"((uint16_t)port)); return v; }
SKIFF_INLINE uint32_t skiff_inw(uint32_t port) { uint16_t v; __asm__ volatile("inw %w1, %0" : "=a"(v) : "Nd"((uint16_t)port)); return v; }
SKIFF_INLINE uint32_t skiff_inl(uint32_t port) { uint32_t v; __asm__ volatile("inl %w1, %0" : "=a"(v) : "Nd"((uint16_t)port)); return v; }
SKIFF_INLINE void skiff_outb(uint32_t port, uint32_t v) { __asm__ volatile("outb %b0, %w1" : : "a"((uint8_t)v), "Nd"((uint16_t)port)); }
SKIFF_INLINE void skiff_outw(uint32_t port, uint32_t v) { __asm__ volatile("outw %w0, %w1" : : "a"((uint16_t)v), "Nd"((uint16_t)port)); }
SKIFF_INLINE void skiff_outl(uint32_t port, uint32_t v) { __asm__ volatile("outl %0, %w1" : : "a"(v), "Nd"((uint16_t)port)); }

/* Device memory: volatile accesses of exactly the requested width. The
 * identity map covers 0..4 GiB; beyond that an access faults and says so. */
SKIFF_INLINE uint32_t skiff_mmio_read8(uint64_t a) { return *(volatile uint8_t *)(uintptr_t)a; }
SKIFF_INLINE uint32_t skiff_mmio_read16(uint64_t a) { return *(volatile uint16_t *)(uintptr_t)a; }
SKIFF_INLINE uint32_t skiff_mmio_read32(uint64_t a) { return *(volatile uint32_t *)(uintptr_t)a; }
SKIFF_INLINE uint64_t skiff_mmio_read64(uint64_t a) { return *(volatile uint64_t *)(uintptr_t)a; }
SKIFF_INLINE void skiff_mmio_write8(uint64_t a, uint32_t v) { *(volatile uint8_t *)(uintptr_t)a = (uint8_t)v; }
SKIFF_INLINE void skiff_mmio_write16(uint64_t a, uint32_t v) { *(volatile uint16_t *)(uintptr_t)a = (uint16_t)v; }
SKIFF_INLINE void skiff_mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)(uintptr_t)a = v; }
SKIFF_INLINE void skiff_mmio_write64(uint64_t a, uint64_t v) { *(volatile uint64_t *)(uintptr_t)a = v; }

/* Barriers. x86 keeps stores ordered with stores and loads with loads, so
 * rmb/wmb only stop the compiler; mb also orders a store before a later load
 * (virtio's "publish avail index, then read used event"). */
SKIFF_INLINE void skiff_mb(void) { __asm__ volatile("mfence" ::: "memory"); }
SKIFF_INLINE void skiff_rmb(void) { __asm__ volatile("" ::: "memory"); }
SKIFF_INLINE void skiff_wmb(void) { __asm__ volatile("" ::: "memory"); }

SKIFF_INLINE uint64_t skiff_rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/* Copies physical memory below 4 GiB (the identity map) into linear memory;
 * len, or 0 when either range is out of bounds. */
SKIFF_INLINE uint32_t skiff_phys_read(wasm_rt_memory_t *m, uint32_t dst, uint64_t src, uint32_t len) {
  if ((uint64_t)dst + len > m->size || src + len > ((uint64_t)IDENTITY_MAP_GIB << 30) || src + len < src) return 0;
  memcpy(skiff_linear_vbase() + dst, (const void *)(uintptr_t)src, len);
  return len;
}

SKIFF_INLINE void skiff_irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
SKIFF_INLINE void skiff_irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }

#ifdef SKIFF_INLINE_HOST_IMPORTS
/* In image.c only: the generated calls w2c_host_X(instance, args) land here. */
#define w2c_host_inb(h, p) skiff_inb(p)
#define w2c_host_inw(h, p) skiff_inw(p)
#define w2c_host_inl(h, p) skiff_inl(p)
#define w2c_host_outb(h, p, v) skiff_outb(p, v)
#define w2c_host_outw(h, p, v) skiff_outw(p, v)
#define w2c_host_outl(h, p, v) skiff_outl(p, v)
#define w2c_host_mmio_read8(h, a) skiff_mmio_read8(a)
#define w2c_host_mmio_read16(h, a) skiff_mmio_read16(a)
#define w2c_host_mmio_read32(h, a) skiff_mmio_read32(a)
#define w2c_host_mmio_read64(h, a) skiff_mmio_read64(a)
#define w2c_host_mmio_write8(h, a, v) skiff_mmio_write8(a, v)
#define w2c_host_mmio_write16(h, a, v) skiff_mmio_write16(a, v)
#define w2c_host_mmio_write32(h, a, v) skiff_mmio_write32(a, v)
#define w2c_host_mmio_write64(h, a, v) skiff_mmio_write64(a, v)
#define w2c_host_mb(h) skiff_mb()
#define w2c_host_rmb(h) skiff_rmb()
#define w2c_host_wmb(h) skiff_wmb()
#define w2c_host_rdtsc(h) skiff_rdtsc()
#define w2c_host_irq_enable(h) skiff_irq_enable()
#define w2c_host_irq_disable(h) skiff_irq_disable()
/* linear_base() is the alias minus its offset: a link-time constant too. */
#define w2c_host_linear_base(h) ((u64)(uintptr_t)skiff_linear_vbase() - LINEAR_VIRT_OFFSET)
/* phys_read copies into linear memory, so it needs the kernel's memory: every
 * function wasm2c 1.0.39 (pinned) generates names its instance `instance`. */
#define w2c_host_phys_read(h, dst, src, len) skiff_phys_read(&instance->w2c_memory, dst, src, len)
#endif
#endif
