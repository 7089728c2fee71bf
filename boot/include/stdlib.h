/* boot/include/stdlib.h — only abort(), for code paths wasm2c guards with sanity checks. */
#ifndef SKIFF_STDLIB_H
#define SKIFF_STDLIB_H
void abort(void) __attribute__((noreturn));
#endif
