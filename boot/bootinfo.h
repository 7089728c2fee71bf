/* boot/bootinfo.h — the boot protocol, its record, and the RAM bound from its
 * memory map (bootinfo.c). Below it: bootrecord.h, paging.h, serial.h. */
#ifndef SKIFF_BOOTINFO_H
#define SKIFF_BOOTINFO_H
#include <stdint.h>

/* Tells PVH from Multiboot2 by the magic and parses the information into the
 * boot record. Once, before linear memory is set up. */
void bootinfo_init(uint32_t magic, uint32_t info);
uint32_t bootinfo_protocol(void);   /* BOOT_* (hostif.h) */
uint64_t bootinfo_address(void);    /* the protocol's own structure, as entry got it */
uint64_t bootinfo_record(void);     /* the parsed boot record (bootrecord.h) */
/* Bytes linear memory may grow to, from the boot protocol's memory map; 0 when unknown. */
uint64_t loader_ram_limit(void);
/* Ends the guest with a loader error (status 73) saying so when the RAM holding
 * the image does not reach end (physical): called as linear memory is set up. */
void loader_check_ram(uint64_t end);
#endif
