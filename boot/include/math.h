/* boot/include/math.h — -ffreestanding implies -fno-builtin, so map the few
 * functions wasm2c's output calls onto builtins; they inline as SSE2 (no SSE4.1:
 * QEMU's default CPU lacks roundsd, so gcc falls back to short sequences). */
#ifndef SKIFF_MATH_H
#define SKIFF_MATH_H
#define NAN       __builtin_nan("")
#define INFINITY  __builtin_inf()
#define isnan(x)  __builtin_isnan(x)
#define isinf(x)  __builtin_isinf(x)
#define signbit(x) __builtin_signbit(x)
#define sqrt      __builtin_sqrt
#define sqrtf     __builtin_sqrtf
#define fabs      __builtin_fabs
#define fabsf     __builtin_fabsf
#define copysign  __builtin_copysign
#define copysignf __builtin_copysignf
/* floor/ceil/trunc/nearbyint need SSE4.1 to inline; the loader supplies them. */
double floor(double);  float floorf(float);
double ceil(double);   float ceilf(float);
double trunc(double);  float truncf(float);
double nearbyint(double); float nearbyintf(float);
#endif
