/* boot/paging.h — where linear memory sits and its guard-page mapping (paging.c).
 * Below it: serial.h, libc. */
#ifndef SKIFF_PAGING_H
#define SKIFF_PAGING_H
#include <stdint.h>

uint64_t linear_base(void);
void linear_map(uint64_t base, uint64_t from, uint64_t to);
int linear_fault(uint64_t addr);
#endif
