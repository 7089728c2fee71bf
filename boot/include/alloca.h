/* boot/include/alloca.h */
#ifndef SKIFF_ALLOCA_H
#define SKIFF_ALLOCA_H
#define alloca __builtin_alloca
#endif
