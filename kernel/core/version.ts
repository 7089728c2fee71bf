// kernel/core/version.ts — the kernel's name and version: the boot banner, the
// management API's /os/name and /os/version, and apps (through "skiff").

// @ts-ignore: decorator
@lazy
export const KERNEL_NAME = "Skiff";
// @ts-ignore: decorator
@lazy
export const KERNEL_VERSION = "0.1.0";
/** KERNEL_NAME + " " + KERNEL_VERSION + " (booted via ": one constant, one call. */
export const BANNER = "Skiff 0.1.0 (booted via ";
