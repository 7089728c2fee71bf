// cli/lib/status.ts — guest exit statuses (mirrors boot/hostif.h and
// kernel/platform/exit.ts) and how a QEMU exit code maps back to them.

export const EXIT = {
  SUCCESS: 0,
  APP_MAX: 63,
  PANIC: 70,
  TRAP: 71,
  FAULT: 72,
  LOADER: 73,
  /** The guest asked to be started again (POST /os/reboot). */
  REBOOT: 74,
  /** CLI-side outcomes, outside the guest's range. */
  TIMEOUT: 124,
  QEMU_FAILED: 125,
  NO_STATUS: 126,
  INTERRUPTED: 130,
} as const;

export function describeStatus(status: number): string {
  if (status === EXIT.SUCCESS) return "success";
  if (status > 0 && status <= EXIT.APP_MAX) return `app failure (main returned ${status})`;
  switch (status) {
    case EXIT.PANIC: return "kernel panic";
    case EXIT.TRAP: return "Wasm trap";
    case EXIT.FAULT: return "CPU exception";
    case EXIT.LOADER: return "loader error";
    case EXIT.REBOOT: return "reboot requested";
    case EXIT.TIMEOUT: return "time limit reached";
    case EXIT.QEMU_FAILED: return "QEMU failed";
    case EXIT.NO_STATUS: return "guest stopped without an exit status (triple fault, reset or power-off)";
    case EXIT.INTERRUPTED: return "interrupted";
    default: return `status ${status}`;
  }
}

/** isa-debug-exit makes QEMU exit with (status << 1) | 1; QEMU's own errors
 *  exit 1 after printing to stderr, and a guest reset under -no-reboot exits 0. */
export function statusFromQemu(code: number | undefined, qemuStderr: string): number {
  if (code === undefined) return EXIT.QEMU_FAILED;
  if (code === 0) return EXIT.NO_STATUS;
  if (code === 1 && /qemu-system[^:]*:/.test(qemuStderr)) return EXIT.QEMU_FAILED;
  if (code % 2 === 1) return (code - 1) >> 1;
  return EXIT.QEMU_FAILED;
}
