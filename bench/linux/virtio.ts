// bench/linux/virtio.ts — the Linux reference guest for bench/virtio.ts
// (issue #4, side by side): the reference initramfs plus virtio_blk.ko, a
// static bench/linux/iobench (built here with gcc -static: busybox has no
// random-read tool and no sub-second clock) and an /init that runs the same
// phases as bench/apps/blkbench at the same queue depths — sequential 128 KiB
// writes then reads with SEQ_DEPTH in flight, 4 KiB random reads with
// RAND_DEPTH in flight, O_DIRECT on /dev/vda through one io_uring in one
// process (no forked workers); then 60-byte UDP frames to a host socket
// through -netdev socket — printing `iobench: ...` lines in blkbench's format.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { UserError } from "../../cli/lib/log.js";
import { cpioNewc } from "./cpio.js";
import { MODULES, type LinuxGuest } from "./guest.js";

export const IOBENCH_DONE = "iobench: done";
/** Requests in flight, as bench/apps/blkbench keeps them (its DEPTH and RDEPTH). */
export const SEQ_DEPTH = 8;
export const RAND_DEPTH = 32;

function initScript(): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${MODULES.map((m) => m.split("/").pop()).join(" ")} virtio_blk; do
  insmod /modules/$m.ko || echo "init: insmod $m failed"
done
bytes=0; rand_ms=2000; net_ms=2000
for a in $(cat /proc/cmdline); do
  case "$a" in
    iobench.bytes=*) bytes="\${a#iobench.bytes=}" ;;
    iobench.rand_ms=*) rand_ms="\${a#iobench.rand_ms=}" ;;
    iobench.net_ms=*) net_ms="\${a#iobench.net_ms=}" ;;
  esac
done
echo "iobench: start"
if [ -b /dev/vda ] && [ "$bytes" != 0 ]; then
  /bin/iobench seq /dev/vda $bytes ${SEQ_DEPTH} || echo "iobench: seq failed"
  /bin/iobench rand /dev/vda $bytes $rand_ms ${RAND_DEPTH} || echo "iobench: rand failed"
fi
# 10.0.2.15 -> 10.0.2.2:9 as blkbench sends; nothing answers ARP on the socket
# backend's link, so a permanent ARP entry (busybox ip neigh cannot add one).
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  ip addr add 10.0.2.15/24 dev eth0
  arp -i eth0 -s 10.0.2.2 52:54:00:12:34:02 || echo "iobench: arp -s failed"
  /bin/iobench udp 10.0.2.2 9 $net_ms 18 || echo "iobench: udp failed"
fi
echo "${IOBENCH_DONE}"
exec sleep 2147483647
`;
}

/** bench/linux/iobench.c compiled static (rebuilt when the source is newer). */
function buildIobench(root: string): string {
  const src = join(root, "bench", "linux", "iobench.c");
  const out = join(root, "build", "bench", "linux", "iobench");
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    try {
      execFileSync("gcc", ["-static", "-O2", "-Wall", "-o", out, src], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const err = e as { stderr?: Buffer; code?: string; message: string };
      if (err.code === "ENOENT") throw new UserError("gcc not found: run bench/setup.sh (it installs gcc and libc6-dev)");
      throw new UserError(`gcc -static bench/linux/iobench.c failed (libc6-dev provides libc.a; bench/setup.sh installs it): ${err.stderr?.toString().trim() || err.message}`);
    }
  }
  return out;
}

/** The reference initramfs with the I/O /init, iobench and virtio_blk.ko
 *  appended as a second archive (later files win). */
export function linuxIoInitramfs(root: string, g: LinuxGuest): string {
  const dir = join(root, "build", "bench", "linux");
  const modDir = join(dir, "root", "lib", "modules");
  const kver = readdirSync(modDir)[0];
  const ko = join(modDir, kver, "kernel", "drivers", "block", "virtio_blk.ko");
  if (!existsSync(ko)) throw new UserError(`virtio_blk.ko not found in the Linux guest's modules (${ko})`);
  const overlay = gzipSync(cpioNewc([
    { path: "init", type: "file", data: Buffer.from(initScript()), mode: 0o755 },
    { path: "bin/iobench", type: "file", data: readFileSync(buildIobench(root)), mode: 0o755 },
    { path: "modules/virtio_blk.ko", type: "file", data: readFileSync(ko) },
  ]), { level: 9 });
  const out = join(dir, "initramfs-io.cpio.gz");
  const img = Buffer.concat([readFileSync(g.initramfs), overlay]);
  mkdirSync(dir, { recursive: true });
  if (!existsSync(out) || !readFileSync(out).equals(img)) writeFileSync(out, img);
  return out;
}
