/* boot/include/assert.h — a failed assertion in the loader or generated code is a loader bug. */
#ifndef SKIFF_ASSERT_H
#define SKIFF_ASSERT_H
void skiff_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define assert(x) ((x) ? (void)0 : skiff_assert_fail(#x, __FILE__, __LINE__))
#endif
