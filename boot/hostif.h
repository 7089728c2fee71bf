/*
 * boot/hostif.h — the host-import interface version, exit statuses and the
 * values host imports pass (boot protocols, EOI modes). test/unit/shared-facts.test.ts
 * holds every mirror of them (kernel/, cli/) to these.
 * The list of imports itself is kernel/platform/host.ts (module "host"); wasm2c
 * turns each into a prototype `w2c_host_<name>` in the generated image.h, which
 * loader.c includes so the compiler checks every signature. Bump the version in
 * both places whenever an import is added, removed or changes meaning.
 */
#ifndef SKIFF_HOSTIF_H
#define SKIFF_HOSTIF_H

#define SKIFF_HOSTIF_VERSION 5

/* Guest exit statuses, written to isa-debug-exit (QEMU exits with (s << 1) | 1).
 * Mirrored by kernel/platform/exit.ts and cli/lib/status.ts. */
#define EXIT_SUCCESS_CODE 0   /* main returned 0 */
/*                1..63          main returned this (app-defined failure) */
#define EXIT_PANIC   70       /* AssemblyScript abort / kernel panic */
#define EXIT_TRAP    71       /* Wasm trap: out of bounds, unreachable, ... */
#define EXIT_FAULT   72       /* CPU exception outside a Wasm trap */
#define EXIT_LOADER  73       /* loader could not start the kernel */
#define EXIT_REBOOT  74       /* not a failure: start the guest again */

#define DEBUG_EXIT_PORT 0xf4

/* What boot_protocol() returns. Mirrored by kernel/platform/bootinfo. */
#define BOOT_UNKNOWN    0
#define BOOT_PVH        1
#define BOOT_MULTIBOOT2 2

/* What guarded_call returns: FAULT_NONE, the fault that ended the call, or
 * GUARD_RUN_HERE (too deeply nested: run it yourself). Mirrored by kernel/core/fault.ts. */
#define FAULT_NONE     0
#define FAULT_TRAP     1
#define FAULT_ABORT    2
#define FAULT_OOM      3
#define GUARD_RUN_HERE 255

/* irq_set_eoi's modes: how irq_common (entry.S) acknowledges an interrupt.
 * Mirrored by kernel/platform/arch/lapic.ts. */
#define EOI_NONE   0
#define EOI_XAPIC  1    /* write 0 to the xAPIC EOI register (MMIO) */
#define EOI_X2APIC 2    /* write 0 to the x2APIC EOI MSR */

/* Printed by the loader first thing; cli/lib/qemu.ts strips output before it. */
#define SERIAL_BOOT_MARKER "\x1bPskiff\x1b\\"

#endif
