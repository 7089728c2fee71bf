/* boot/include/string.h — the four memory routines the generated code and loader use. */
#ifndef SKIFF_STRING_H
#define SKIFF_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
#endif
