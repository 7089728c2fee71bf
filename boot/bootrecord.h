/*
 * boot/bootrecord.h — the boot information as the loader hands it to the
 * kernel: one parser (bootrecord.c) reads PVH's hvm_start_info or Multiboot2's
 * tags once, into this fixed, self-contained record; the kernel reads the
 * record (host import boot_record, kernel/platform/bootinfo/record.ts) and never the
 * protocols' own structures. The offsets below are the layout; bootrecord.c
 * checks the struct against them at compile time, and
 * test/unit/shared-facts.test.ts holds the kernel's and the dev host's copies
 * to them.
 */
#ifndef SKIFF_BOOTRECORD_H
#define SKIFF_BOOTRECORD_H
#include <stdint.h>

#define BOOT_RECORD_MAGIC  0x52424b53u   /* "SKBR" */
#define BOOT_CMDLINE_MAX   4096          /* bytes of command line kept */
#define BOOT_MEMMAP_MAX    128           /* memory-map entries kept */
#define BOOT_NAME_MAX      64            /* boot loader name bytes kept */
#define BOOT_RSDP_MAX      64            /* bytes of a Multiboot2 ACPI tag's RSDP copy */
#define BOOT_PROBLEMS_MAX  8

#define BOOT_REC_MAGIC         0
#define BOOT_REC_PROTOCOL      4      /* BOOT_* (hostif.h) */
#define BOOT_REC_PVH_VERSION   8      /* int32: start_info version, -1 when not PVH */
#define BOOT_REC_CMDLINE_LEN   12
#define BOOT_REC_MEMMAP_COUNT  16
#define BOOT_REC_NAME_LEN      20
#define BOOT_REC_RSDP_LEN      24
#define BOOT_REC_PROBLEM_COUNT 28
#define BOOT_REC_RSDP_ADDR     32     /* uint64: the RSDP's physical address, 0 when not given */
#define BOOT_REC_PROBLEMS      40     /* BOOT_PROBLEMS_MAX × (kind, a, b), uint64 each */
#define BOOT_REC_NAME          232
#define BOOT_REC_RSDP          296
#define BOOT_REC_MEMMAP        360    /* BOOT_MEMMAP_MAX × 24: base u64, length u64, type u32, pad u32 */
#define BOOT_REC_CMDLINE       3432
#define BOOT_REC_SIZE          7528
#define BOOT_REC_ENTRY_BYTES   24

/* What went wrong while reading (a problem's kind; a and b as noted). */
#define BOOT_P_NO_INFO          1   /* neither PVH nor Multiboot2 */
#define BOOT_P_PVH_BAD          2   /* start_info unreadable or bad magic */
#define BOOT_P_PVH_V0           3   /* version 0: no memory map */
#define BOOT_P_PVH_MAP_CAPPED   4   /* a: the map's entry count */
#define BOOT_P_PVH_MAP_UNREADABLE 5
#define BOOT_P_MB2_UNREADABLE   6
#define BOOT_P_MB2_SIZE         7   /* a: total_size */
#define BOOT_P_MB2_TAG_SIZE     8   /* a: tag type, b: its size */
#define BOOT_P_MB2_ENTRY_SIZE   9   /* a: the memory map's entry size */

struct boot_region { uint64_t base, length; uint32_t type, pad; };
struct boot_problem { uint64_t kind, a, b; };

struct boot_record {
  uint32_t magic, protocol;
  int32_t pvh_version;
  uint32_t cmdline_len, memmap_count, name_len, rsdp_len, problem_count;
  uint64_t rsdp_addr;
  struct boot_problem problems[BOOT_PROBLEMS_MAX];
  uint8_t name[BOOT_NAME_MAX];
  uint8_t rsdp[BOOT_RSDP_MAX];
  struct boot_region memmap[BOOT_MEMMAP_MAX];
  uint8_t cmdline[BOOT_CMDLINE_MAX];
};

/* Physical memory, readable as len bytes at addr: a pointer to them, or 0
 * when the range cannot be read. The loader's is the identity map. */
typedef const uint8_t *(*boot_phys_fn)(uint64_t addr, uint32_t len);

/* Fills r from the boot information at addr (protocol: BOOT_* of hostif.h).
 * The structures come from a hypervisor or boot loader but are still checked:
 * a bad length or count truncates what is kept, and is noted in r's problems. */
void boot_record_parse(struct boot_record *r, uint32_t protocol, uint64_t addr, boot_phys_fn phys);
#endif
