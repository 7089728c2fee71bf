// cli/lib/apitoken.ts — a running guest's folder on the host (mode 0700, under
// the per-user runtime folder), holding the host-only channel's socket and the
// management API's bearer token.
//
// The host-only channel: QEMU connects a virtio-serial port named
// "org.skiff.api" to a unix socket in that folder (api.sock); the guest serves
// the management API on it without a token, since only the folder's owner can
// reach the socket (`curl --unix-socket .../api.sock http://guest/os/uptime`).
//
// The token, for the API on the network:
// The guest never prints its token (its console feeds /os/dmesg), so the host
// makes one, keeps it in a mode-0600 file that only the user can read, and
// hands it to the guest through QEMU's fw_cfg (-fw_cfg name=...,file=...):
// unlike the kernel command line it shows neither in the guest's /os/cmdline
// nor in the host's process list. The guest reads it in kernel/api/boot.ts.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { runtimeDir } from "./guests.js";
import { join } from "node:path";

/** The fw_cfg file name the kernel reads (kernel/api/boot.ts TOKEN_FWCFG_FILE). */
export const TOKEN_FWCFG_FILE = "opt/org.skiff/api-token";

/** True when the command line already decides about the token (api.token=,
 *  or api.off: no endpoint at all). */
export function cmdlineHasToken(cmdline: string | undefined): boolean {
  return /(^|\s)api\.(token=|off(\s|$))/.test(cmdline ?? "");
}

/** The host-only channel's virtio-serial port name (kernel/api/hostchannel.ts). */
export const API_PORT_NAME = "org.skiff.api";

export interface GuestRuntime {
  /** The guest's folder (mode 0700). */
  dir: string;
  /** The host-only channel's unix socket (QEMU creates it). */
  apiSocket: string;
  token: string;
  /** Mode 0600, inside a mode-0700 folder of its own. */
  file: string;
  /** QEMU arguments that pass the token to the guest (fw_cfg). */
  tokenArgs: string[];
  /** Removes the file and its folder. */
  remove(): void;
}

/** A new guest folder under dir (default runtimeDir()) with a fresh 128-bit token. */
export function newGuestRuntime(dir = runtimeDir()): GuestRuntime {
  const token = randomBytes(16).toString("hex");
  const folder = mkdtempSync(join(dir, "guest-"));
  const file = join(folder, "api-token");
  writeFileSync(file, token, { mode: 0o600 });
  return {
    dir: folder,
    apiSocket: join(folder, "api.sock"),
    token,
    file,
    tokenArgs: ["-fw_cfg", `name=${TOKEN_FWCFG_FILE},file=${file}`],
    remove: () => rmSync(folder, { recursive: true, force: true }),
  };
}
