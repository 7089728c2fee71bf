// kernel/platform/arch/fwcfg.ts — QEMU's firmware configuration device (fw_cfg), read
// through its traditional I/O-port interface: a 16-bit selector written to
// 0x510, data read a byte at a time from 0x511; item 0x0000 is the signature
// "QEMU", item 0x0019 the file directory (a big-endian u32 count, then per
// file a BE u32 size, BE u16 selector, u16 reserved and a 56-byte NUL-padded
// name). microvm, q35 and pc all have it; where it is absent (Firecracker,
// other hypervisors) the ports read 0xff and every lookup answers null.
// The host passes small secrets this way (`-fw_cfg name=opt/...,file=F`): unlike
// the command line they are not visible in the guest's /os/cmdline or the
// host's process list.
import { inb, outw } from "..";

const FW_CFG_SELECTOR: u32 = 0x510;
const FW_CFG_DATA: u32 = 0x511;
const FW_CFG_SIGNATURE: u32 = 0x0000;
const FW_CFG_FILE_DIR: u32 = 0x0019;
const FILE_NAME_BYTES: i32 = 56;
/** A directory longer than this is not trusted (QEMU's own limit is far lower). */
const MAX_FILES: u32 = 4096;

function readBE(bytes: i32): u32 {
  let v: u32 = 0;
  for (let i = 0; i < bytes; i++) v = (v << 8) | (inb(FW_CFG_DATA) & 0xff);
  return v;
}

/** True when the device answers with its "QEMU" signature. */
export function fwcfgPresent(): bool {
  outw(FW_CFG_SELECTOR, FW_CFG_SIGNATURE);
  return inb(FW_CFG_DATA) == 0x51 && inb(FW_CFG_DATA) == 0x45 && inb(FW_CFG_DATA) == 0x4d && inb(FW_CFG_DATA) == 0x55;
}

/** The contents of the fw_cfg file `name` (e.g. "opt/org.skiff/api-token"),
 *  or null when there is no fw_cfg, no such file, or it is longer than maxBytes. */
export function fwcfgFile(name: string, maxBytes: i32): Uint8Array | null {
  if (!fwcfgPresent()) return null;
  const want = String.UTF8.encode(name);
  const wantLen = want.byteLength;
  if (wantLen >= FILE_NAME_BYTES) return null;
  const wantBytes = Uint8Array.wrap(want);
  outw(FW_CFG_SELECTOR, FW_CFG_FILE_DIR);
  const count = readBE(4);
  if (count > MAX_FILES) return null;
  for (let f: u32 = 0; f < count; f++) {
    const size = readBE(4);
    const select = readBE(2);
    readBE(2);
    // Compare the name as it streams past; the rest of the entry is skipped.
    let match = true;
    for (let i = 0; i < FILE_NAME_BYTES; i++) {
      const c = inb(FW_CFG_DATA) & 0xff;
      const expect: u32 = i < wantLen ? <u32>unchecked(wantBytes[i]) : 0;
      if (c != expect) match = false;
    }
    if (!match) continue;
    if (size > <u32>maxBytes) return null;
    const out = new Uint8Array(<i32>size);
    outw(FW_CFG_SELECTOR, select);
    for (let i = 0; i < <i32>size; i++) unchecked(out[i] = <u8>inb(FW_CFG_DATA));
    return out;
  }
  return null;
}
