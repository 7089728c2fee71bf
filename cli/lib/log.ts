// cli/lib/log.ts — the CLI's I/O, passed in so commands are testable.
export interface IO {
  out(text: string): void;
  err(text: string): void;
  /** Raw bytes from a guest's serial console. */
  raw(chunk: Uint8Array | string): void;
  cwd: string;
  env: Record<string, string | undefined>;
  isTTY: boolean;
}

export function nodeIO(): IO {
  return {
    out: (t) => { process.stdout.write(t + "\n"); },
    err: (t) => { process.stderr.write(t + "\n"); },
    raw: (c) => { process.stdout.write(c); },
    cwd: process.cwd(),
    env: process.env,
    isTTY: !!process.stdout.isTTY,
  };
}

/** An error a person can act on: what failed, why, what to do. */
export class UserError extends Error {
  constructor(message: string, public status = 2) {
    super(message);
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
