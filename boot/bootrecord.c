/*
 * boot/bootrecord.c — the one parser of the boot protocols: PVH's
 * hvm_start_info (Xen arch-x86/hvm/start_info.h) and Multiboot2's tag list
 * (Multiboot2 spec §3.6), into the record bootrecord.h describes. Pure: it
 * reads through the phys function it is given and writes only the record, so
 * the unit tests compile it for the host and run it on captured samples
 * (test/unit/bootinfo.test.ts). Below it: libc (memcpy, memset) only.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "hostif.h"
#include "bootrecord.h"

_Static_assert(offsetof(struct boot_record, protocol) == BOOT_REC_PROTOCOL, "layout");
_Static_assert(offsetof(struct boot_record, pvh_version) == BOOT_REC_PVH_VERSION, "layout");
_Static_assert(offsetof(struct boot_record, cmdline_len) == BOOT_REC_CMDLINE_LEN, "layout");
_Static_assert(offsetof(struct boot_record, memmap_count) == BOOT_REC_MEMMAP_COUNT, "layout");
_Static_assert(offsetof(struct boot_record, name_len) == BOOT_REC_NAME_LEN, "layout");
_Static_assert(offsetof(struct boot_record, rsdp_len) == BOOT_REC_RSDP_LEN, "layout");
_Static_assert(offsetof(struct boot_record, problem_count) == BOOT_REC_PROBLEM_COUNT, "layout");
_Static_assert(offsetof(struct boot_record, rsdp_addr) == BOOT_REC_RSDP_ADDR, "layout");
_Static_assert(offsetof(struct boot_record, problems) == BOOT_REC_PROBLEMS, "layout");
_Static_assert(offsetof(struct boot_record, name) == BOOT_REC_NAME, "layout");
_Static_assert(offsetof(struct boot_record, rsdp) == BOOT_REC_RSDP, "layout");
_Static_assert(offsetof(struct boot_record, memmap) == BOOT_REC_MEMMAP, "layout");
_Static_assert(offsetof(struct boot_record, cmdline) == BOOT_REC_CMDLINE, "layout");
_Static_assert(sizeof(struct boot_record) == BOOT_REC_SIZE, "layout");
_Static_assert(sizeof(struct boot_region) == BOOT_REC_ENTRY_BYTES, "layout");

#define PVH_START_MAGIC      0x336ec578u
#define MB2_TAG_END          0
#define MB2_TAG_CMDLINE      1
#define MB2_TAG_BOOTLOADER   2
#define MB2_TAG_BASIC_MEMINFO 4
#define MB2_TAG_MMAP         6
#define MB2_TAG_ACPI_OLD     14
#define MB2_TAG_ACPI_NEW     15
#define MB2_MAX_INFO         65536   /* largest Multiboot2 information block read */

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void problem(struct boot_record *r, uint64_t kind, uint64_t a, uint64_t b) {
  if (r->problem_count == BOOT_PROBLEMS_MAX) return;
  struct boot_problem *p = &r->problems[r->problem_count++];
  p->kind = kind; p->a = a; p->b = b;
}

static void add_region(struct boot_record *r, uint64_t base, uint64_t length, uint32_t type) {
  if (length == 0 || r->memmap_count == BOOT_MEMMAP_MAX) return;
  struct boot_region *e = &r->memmap[r->memmap_count++];
  e->base = base; e->length = length; e->type = type; e->pad = 0;
}

/* The NUL-terminated string in src's first max bytes, copied to dst; returns its length. */
static uint32_t copy_cstring(uint8_t *dst, const uint8_t *src, uint32_t max) {
  uint32_t n = 0;
  while (n < max && src[n] != 0) { dst[n] = src[n]; n++; }
  return n;
}

// struct hvm_start_info: magic u32 @0, version u32 @4, flags u32 @8,
// nr_modules u32 @12, modlist_paddr u64 @16, cmdline_paddr u64 @24,
// rsdp_paddr u64 @32; version >= 1: memmap_paddr u64 @40, memmap_entries u32 @48.
// struct hvm_memmap_table_entry: addr u64, size u64, type u32, reserved u32 (24 bytes).
static void parse_pvh(struct boot_record *r, uint64_t addr, boot_phys_fn phys) {
  const uint8_t *si = phys(addr, 56);
  if (!si || rd32(si) != PVH_START_MAGIC) {
    problem(r, BOOT_P_PVH_BAD, 0, 0);
    return;
  }
  uint32_t version = rd32(si + 4);
  uint64_t cmd_at = rd64(si + 24), map_at = rd64(si + 40);
  uint32_t entries = rd32(si + 48);
  r->rsdp_addr = rd64(si + 32);
  r->pvh_version = version > 0x7fffffffu ? 0x7fffffff : (int32_t)version;
  const uint8_t *cmd = cmd_at ? phys(cmd_at, BOOT_CMDLINE_MAX) : 0;
  if (cmd) r->cmdline_len = copy_cstring(r->cmdline, cmd, BOOT_CMDLINE_MAX);
  if (version < 1) {
    problem(r, BOOT_P_PVH_V0, 0, 0);
    return;
  }
  if (entries > BOOT_MEMMAP_MAX) {
    problem(r, BOOT_P_PVH_MAP_CAPPED, entries, 0);
    entries = BOOT_MEMMAP_MAX;
  }
  if (entries == 0) return;
  const uint8_t *map = phys(map_at, entries * BOOT_REC_ENTRY_BYTES);
  if (!map) {
    problem(r, BOOT_P_PVH_MAP_UNREADABLE, 0, 0);
    return;
  }
  for (uint32_t i = 0; i < entries; i++) {
    const uint8_t *e = map + i * BOOT_REC_ENTRY_BYTES;
    add_region(r, rd64(e), rd64(e + 8), rd32(e + 16));   /* drops empty entries */
  }
}

// Multiboot2 information: total_size u32 @0, reserved u32 @4, then tags from
// @8, each type u32, size u32, payload; tags start 8-aligned; type 0 ends the list.
static void parse_multiboot2(struct boot_record *r, uint64_t addr, boot_phys_fn phys) {
  const uint8_t *head = phys(addr, 8);
  if (!head) {
    problem(r, BOOT_P_MB2_UNREADABLE, 0, 0);
    return;
  }
  uint32_t total = rd32(head);
  if (total < 16 || total > MB2_MAX_INFO) {
    problem(r, BOOT_P_MB2_SIZE, total, 0);
    total = total < 16 ? 16 : MB2_MAX_INFO;
  }
  const uint8_t *p = phys(addr, total);
  if (!p) {
    problem(r, BOOT_P_MB2_UNREADABLE, 0, 0);
    return;
  }
  uint32_t basic_upper_kib = 0;
  int saw_mmap = 0;
  for (uint32_t off = 8; off + 8 <= total;) {
    const uint8_t *tag = p + off;
    uint32_t type = rd32(tag), size = rd32(tag + 4);
    if (type == MB2_TAG_END) break;
    if (size < 8 || size > total - off) {
      problem(r, BOOT_P_MB2_TAG_SIZE, type, size);
      break;
    }
    uint32_t payload = size - 8;
    if (type == MB2_TAG_CMDLINE) {
      r->cmdline_len = copy_cstring(r->cmdline, tag + 8, payload < BOOT_CMDLINE_MAX ? payload : BOOT_CMDLINE_MAX);
    } else if (type == MB2_TAG_BOOTLOADER) {
      r->name_len = copy_cstring(r->name, tag + 8, payload < BOOT_NAME_MAX ? payload : BOOT_NAME_MAX);
    } else if (type == MB2_TAG_BASIC_MEMINFO && size >= 16) {
      basic_upper_kib = rd32(tag + 12);
    } else if (type == MB2_TAG_MMAP && size >= 16) {
      uint32_t entry_size = rd32(tag + 8);
      if (entry_size < BOOT_REC_ENTRY_BYTES) {
        problem(r, BOOT_P_MB2_ENTRY_SIZE, entry_size, 0);
      } else {
        saw_mmap = 1;
        for (uint32_t e = 16; e + BOOT_REC_ENTRY_BYTES <= size && r->memmap_count < BOOT_MEMMAP_MAX; e += entry_size)
          add_region(r, rd64(tag + e), rd64(tag + e + 8), rd32(tag + e + 16));
      }
    } else if (type == MB2_TAG_ACPI_OLD || type == MB2_TAG_ACPI_NEW) {
      r->rsdp_len = payload < BOOT_RSDP_MAX ? payload : BOOT_RSDP_MAX;
      memcpy(r->rsdp, tag + 8, r->rsdp_len);
    }
    off += (size + 7) & ~7u;
  }
  if (!saw_mmap && basic_upper_kib != 0)
    add_region(r, 0x100000, (uint64_t)basic_upper_kib * 1024, 1);   /* basic meminfo: RAM from 1 MiB up */
}

void boot_record_parse(struct boot_record *r, uint32_t protocol, uint64_t addr, boot_phys_fn phys) {
  /* The header only: the arrays are read up to their counts. */
  memset(r, 0, offsetof(struct boot_record, problems));
  r->magic = BOOT_RECORD_MAGIC;
  r->protocol = protocol;
  r->pvh_version = -1;
  if (protocol == BOOT_PVH) parse_pvh(r, addr, phys);
  else if (protocol == BOOT_MULTIBOOT2) parse_multiboot2(r, addr, phys);
  else problem(r, BOOT_P_NO_INFO, 0, 0);
}
