/* boot/bootinfo.h — the boot protocol and the RAM bound from its memory map
 * (bootinfo.c). Below it: paging.h, serial.h. */
#ifndef SKIFF_BOOTINFO_H
#define SKIFF_BOOTINFO_H
#include <stdint.h>

/* Tells PVH from Multiboot2 by the magic and keeps GRUB's information block
 * out of linear memory's way. Once, before linear memory is set up. */
void bootinfo_init(uint32_t magic, uint32_t info);
uint32_t bootinfo_protocol(void);   /* BOOT_* (hostif.h) */
uint64_t bootinfo_address(void);
/* Bytes linear memory may grow to, from the boot protocol's memory map; 0 when unknown. */
uint64_t loader_ram_limit(void);
/* Ends the guest with a loader error (status 73) saying so when the RAM holding
 * the image does not reach end (physical): called as linear memory is set up. */
void loader_check_ram(uint64_t end);
#endif
