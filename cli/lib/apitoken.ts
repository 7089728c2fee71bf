// cli/lib/apitoken.ts — the management API's bearer token, made on the host.
// The guest never prints its token (its console feeds /os/dmesg), so the host
// makes one, keeps it in a mode-0600 file that only the user can read, and
// hands it to the guest through QEMU's fw_cfg (-fw_cfg name=...,file=...):
// unlike the kernel command line it shows neither in the guest's /os/cmdline
// nor in the host's process list. The guest reads it in kernel/api/boot.ts.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The fw_cfg file name the kernel reads (kernel/api/boot.ts TOKEN_FWCFG_FILE). */
export const TOKEN_FWCFG_FILE = "opt/org.skiff/api-token";

/** The per-user folder for running guests' state: $XDG_RUNTIME_DIR/skiff, or
 *  /tmp/skiff-UID; created with mode 0700 (and refused if others can enter it). */
export function runtimeDir(): string {
  const base = process.env.XDG_RUNTIME_DIR;
  const dir = base ? join(base, "skiff") : join(tmpdir(), `skiff-${process.getuid?.() ?? "user"}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if (process.getuid && st.uid !== process.getuid()) throw new Error(`${dir} belongs to another user; set XDG_RUNTIME_DIR`);
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  return dir;
}

/** True when the command line already decides about the token (api.token=,
 *  or api.off: no endpoint at all). */
export function cmdlineHasToken(cmdline: string | undefined): boolean {
  return /(^|\s)api\.(token=|off(\s|$))/.test(cmdline ?? "");
}

export interface ApiToken {
  token: string;
  /** Mode 0600, inside a mode-0700 folder of its own. */
  file: string;
  /** QEMU arguments that pass it to the guest. */
  qemuArgs: string[];
  /** Removes the file and its folder. */
  remove(): void;
}

/** A fresh 128-bit token in a new folder under dir (default runtimeDir()). */
export function newApiToken(dir = runtimeDir()): ApiToken {
  const token = randomBytes(16).toString("hex");
  const folder = mkdtempSync(join(dir, "guest-"));
  const file = join(folder, "api-token");
  writeFileSync(file, token, { mode: 0o600 });
  return {
    token,
    file,
    qemuArgs: ["-fw_cfg", `name=${TOKEN_FWCFG_FILE},file=${file}`],
    remove: () => rmSync(folder, { recursive: true, force: true }),
  };
}
