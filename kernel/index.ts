// kernel/index.ts — the kernel's public API: what apps import from "skiff".
export { print, println, dmesg } from "./console";
export { bootInfo, BootInfo, Cmdline, MemRegion } from "./bootinfo";
export { memoryInfo, MemoryInfo } from "./mm";
export { panic } from "./panic";
export { exitGuest, EXIT_SUCCESS, EXIT_PANIC, EXIT_TRAP, EXIT_FAULT } from "./platform/exit";
export { KERNEL_NAME, KERNEL_VERSION } from "./main";

// Used by the entry file that `skiff build` generates; not for apps.
export { bootKernel } from "./main";
export { abortHandler } from "./panic";
export { HOSTIF_VERSION } from "./platform/host";
