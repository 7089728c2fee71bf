// kernel/platform/host.ts — THE host-import interface: every function the
// loader (boot/loader.c) provides, and the only @external declarations in the
// kernel. The Node test platform (test/platform/host.ts) implements the same
// list. Bump HOSTIF_VERSION (and SKIFF_HOSTIF_VERSION in boot/hostif.h) when an
// import is added, removed or changes meaning; the loader refuses a mismatch.
//
// Version 1:
//   port I/O        inb inw inl outb outw outl
//   device memory   mmio_read{8,16,32,64} mmio_write{8,16,32,64} (volatile, exact width)
//   ordering        mb (full fence) rmb wmb (compiler barriers on x86)
//   CPU             rdtsc cpuid(leaf, sub, out16) rdmsr wrmsr
//   interrupts      irq_enable irq_disable irq_wait (sti;hlt;cli) irq_take(out32)
//                   irq_count irq_set_eoi(mode, addr)
//   boot            boot_protocol (0 unknown, 1 PVH, 2 Multiboot2) boot_info (phys addr)
//                   phys_read(dst, physSrc, len) (below 4 GiB, into linear memory)
//   memory          linear_base (phys addr of offset 0) memory_limit(bytes)
//   end             halt (cli; hlt forever)
// Version 2 adds:
//   CPU             rdrand64(out8): 1 and 8 random bytes at out, or 0 when RDRAND
//                   gave nothing after the usual 10 tries (call only when CPUID
//                   leaf 1 ECX bit 30 says RDRAND exists)
// Version 3 adds:
//   boot            entry_tsc: the TSC read at the loader's first instruction
//                   (boot time measured inside the guest, without host noise)
// Version 4 adds (kernel/core/fault.ts uses them):
//   faults          guarded_call(fnIndex, arg): calls table entry fnIndex, an
//                   (i32) => void function, with arg; returns 0, or the fault
//                   that ended it (1 Wasm trap, 2 abort, 3 heap exhausted),
//                   or 255: not guarded (too deep; no table), call it yourself
//                   instead of ending the guest. The caller restores
//                   __stack_pointer. fault_info(out, cap): the last fault as
//                   ASCII text, its length. fault_abort(message, file, line,
//                   column): abort inside a guarded call unwinds it; outside,
//                   returns. memory_reserve(bytes): guarded calls may not grow
//                   linear memory into the last `bytes` before the limit.
//                   memory_pressure(fnIndex, arg, zoneBytes): before growing
//                   linear memory into its last zoneBytes, call table entry
//                   fnIndex ((i32) => void) with arg: the kernel collects.
// Version 5 adds:
//   boot            boot_record: physical address of the boot information the
//                   loader parsed (boot/bootrecord.h; kernel/platform/bootinfo/record.ts
//                   reads it), 0 when there is none. boot_protocol and
//                   boot_info stay the protocol's own, for tools (test/apps/dumpboot).

export const HOSTIF_VERSION: u32 = 5;

// @ts-ignore: decorator
@external("host", "inb")
export declare function inb(port: u32): u32;
// @ts-ignore: decorator
@external("host", "inw")
export declare function inw(port: u32): u32;
// @ts-ignore: decorator
@external("host", "inl")
export declare function inl(port: u32): u32;
// @ts-ignore: decorator
@external("host", "outb")
export declare function outb(port: u32, value: u32): void;
// @ts-ignore: decorator
@external("host", "outw")
export declare function outw(port: u32, value: u32): void;
// @ts-ignore: decorator
@external("host", "outl")
export declare function outl(port: u32, value: u32): void;

// @ts-ignore: decorator
@external("host", "mmio_read8")
export declare function mmio_read8(addr: u64): u32;
// @ts-ignore: decorator
@external("host", "mmio_read16")
export declare function mmio_read16(addr: u64): u32;
// @ts-ignore: decorator
@external("host", "mmio_read32")
export declare function mmio_read32(addr: u64): u32;
// @ts-ignore: decorator
@external("host", "mmio_read64")
export declare function mmio_read64(addr: u64): u64;
// @ts-ignore: decorator
@external("host", "mmio_write8")
export declare function mmio_write8(addr: u64, value: u32): void;
// @ts-ignore: decorator
@external("host", "mmio_write16")
export declare function mmio_write16(addr: u64, value: u32): void;
// @ts-ignore: decorator
@external("host", "mmio_write32")
export declare function mmio_write32(addr: u64, value: u32): void;
// @ts-ignore: decorator
@external("host", "mmio_write64")
export declare function mmio_write64(addr: u64, value: u64): void;

// @ts-ignore: decorator
@external("host", "mb")
export declare function mb(): void;
// @ts-ignore: decorator
@external("host", "rmb")
export declare function rmb(): void;
// @ts-ignore: decorator
@external("host", "wmb")
export declare function wmb(): void;

// @ts-ignore: decorator
@external("host", "rdtsc")
export declare function rdtsc(): u64;
// @ts-ignore: decorator
@external("host", "cpuid")
export declare function cpuid(leaf: u32, sub: u32, out: usize): void;
// @ts-ignore: decorator
@external("host", "rdrand64")
export declare function rdrand64(out: usize): u32;
// @ts-ignore: decorator
@external("host", "rdmsr")
export declare function rdmsr(msr: u32): u64;
// @ts-ignore: decorator
@external("host", "wrmsr")
export declare function wrmsr(msr: u32, value: u64): void;

// @ts-ignore: decorator
@external("host", "irq_enable")
export declare function irq_enable(): void;
// @ts-ignore: decorator
@external("host", "irq_disable")
export declare function irq_disable(): void;
// @ts-ignore: decorator
@external("host", "irq_wait")
export declare function irq_wait(): void;
// @ts-ignore: decorator
@external("host", "irq_take")
export declare function irq_take(out: usize): u32;
// @ts-ignore: decorator
@external("host", "irq_count")
export declare function irq_count(): u64;
// @ts-ignore: decorator
@external("host", "irq_set_eoi")
export declare function irq_set_eoi(mode: u32, addr: u64): void;

// @ts-ignore: decorator
@external("host", "boot_protocol")
export declare function boot_protocol(): u32;
// @ts-ignore: decorator
@external("host", "boot_info")
export declare function boot_info(): u64;
// @ts-ignore: decorator
@external("host", "boot_record")
export declare function boot_record(): u64;
// @ts-ignore: decorator
@external("host", "entry_tsc")
export declare function entry_tsc(): u64;
// @ts-ignore: decorator
@external("host", "phys_read")
export declare function phys_read(dst: usize, src: u64, len: u32): u32;

// @ts-ignore: decorator
@external("host", "linear_base")
export declare function linear_base(): u64;
// @ts-ignore: decorator
@external("host", "memory_limit")
export declare function memory_limit(bytes: u64): void;

// @ts-ignore: decorator
@external("host", "halt")
export declare function halt(): void;

// @ts-ignore: decorator
@external("host", "guarded_call") export declare function guarded_call(fnIndex: u32, arg: u32): u32;
// @ts-ignore: decorator
@external("host", "fault_info") export declare function fault_info(out: usize, cap: u32): u32;
// @ts-ignore: decorator
@external("host", "fault_abort") export declare function fault_abort(message: usize, file: usize, line: u32, column: u32): void;
// @ts-ignore: decorator
@external("host", "memory_reserve") export declare function memory_reserve(bytes: u64): void;
// @ts-ignore: decorator
@external("host", "memory_pressure") export declare function memory_pressure(fnIndex: u32, arg: u32, zoneBytes: u64): void;
