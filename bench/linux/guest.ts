// bench/linux/guest.ts — the Linux reference guest for `--vs linux`: Debian's
// cloud kernel and busybox-static, fetched with `apt-get download` and
// unpacked into build/bench/linux (never installed), the uncompressed vmlinux
// cut out of the bzImage (PVH needs an ELF), and a small initramfs whose
// /init loads the virtio modules, starts busybox httpd on port 80 and prints
// READY on the serial console once the port listens. ensureNginxGuest adds
// Debian's nginx (and the libraries it links, from the host) for the HTTP
// comparisons: the busybox httpd forks per request and has no keep-alive.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { IO } from "../../cli/lib/log.js";
import { UserError } from "../../cli/lib/log.js";
import { cpioNewc, type CpioEntry } from "./cpio.js";

export interface LinuxGuest {
  vmlinux: string;
  initramfs: string;
  bzImageBytes: number;
  kernelPackage: string;
  busyboxVersion: string;
  /** The static busybox binary, also the host-side httpd reference. */
  busybox: string;
}

/** The order matters: each module needs the ones before it (no modprobe, no depmod). */
export const MODULES = [
  "drivers/virtio/virtio_ring", "drivers/virtio/virtio", "drivers/virtio/virtio_pci_modern_dev",
  "drivers/virtio/virtio_pci_legacy_dev", "drivers/virtio/virtio_pci", "drivers/virtio/virtio_mmio",
  "net/core/failover", "drivers/net/net_failover", "drivers/net/virtio_net",
];

export const READY_LINE = "SKIFF-BENCH-READY";

/** The start of every reference /init: busybox applets, /proc, /sys, /dev,
 *  the virtio modules in order, then eth0 up with the address from the command
 *  line (bench.ip=, bench.gw=; default 10.0.2.15 via 10.0.2.2 for user
 *  networking), so the same initramfs serves a tap in a namespace too. */
export const INIT_PROLOGUE = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${MODULES.map((m) => m.split("/").pop()).join(" ")}; do
  insmod /modules/$m.ko || echo "init: insmod $m failed"
done
ip=10.0.2.15/24
gw=10.0.2.2
for a in $(cat /proc/cmdline); do
  case "$a" in
    bench.ip=*) ip="\${a#bench.ip=}" ;;
    bench.gw=*) gw="\${a#bench.gw=}" ;;
  esac
done
ip link set lo up
ip link set eth0 up
ip addr add "$ip" dev eth0
ip route add default via "$gw"
`;

/** /init: the common prologue, then busybox httpd (port 80, and 8000 for
 *  the uptime CGI as in the nginx guest) and the READY line. */
export const INIT_SCRIPT = `${INIT_PROLOGUE}httpd -p 80 -h /www
httpd -p 8000 -h /www
# busybox httpd listens on IPv6 (::), so look in tcp6 as well; 0A = LISTEN.
while ! grep -qE ':0050 [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
  usleep 10000
done
echo ${READY_LINE}
exec sleep 2147483647
`;

/** The one small file both guests (and the host reference) serve as /index.html. */
export const INDEX_HTML = "Hello from the benchmark guest!\n";

function run(io: IO, cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: string; code?: string; message: string };
    if (err.code === "ENOENT") throw new UserError(`${cmd} not found: run bench/setup.sh (it installs what the benchmark needs)`);
    throw new UserError(`${cmd} ${args.join(" ")} failed: ${err.stderr?.trim() || err.message}`);
  }
}

/** The bzImage's payload: find the compressor's magic and decompress from
 *  there (what scripts/extract-vmlinux does). Debian 12's cloud kernel uses LZ4. */
export function extractVmlinux(io: IO, bzImage: string, out: string): void {
  const b = readFileSync(bzImage);
  const tries: { magic: number[]; cmd: string; args: string[] }[] = [
    { magic: [0x02, 0x21, 0x4c, 0x18], cmd: "lz4", args: ["-dc"] },
    { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], cmd: "xz", args: ["-dc"] },
    { magic: [0x28, 0xb5, 0x2f, 0xfd], cmd: "zstd", args: ["-dc"] },
    { magic: [0x1f, 0x8b, 0x08], cmd: "gzip", args: ["-dc"] },
  ];
  for (const t of tries) {
    let at = b.indexOf(Buffer.from(t.magic));
    while (at >= 0) {
      const tmp = out + ".payload";
      writeFileSync(tmp, b.subarray(at));
      let elf: Buffer | null = null;
      try {
        // Trailing bytes after the stream make the tools complain; the output is still whole.
        elf = execFileSync("sh", ["-c", `${t.cmd} ${t.args.join(" ")} '${tmp}' 2>/dev/null; true`], { maxBuffer: 1 << 30 });
      } catch { elf = null; }
      rmSync(tmp, { force: true });
      if (elf && elf.length > 1 << 20 && elf.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
        writeFileSync(out, elf);
        io.out(`  vmlinux: ${t.cmd} payload at offset ${at}, ${elf.length} bytes`);
        return;
      }
      at = b.indexOf(Buffer.from(t.magic), at + 1);
    }
  }
  throw new UserError(`could not find a compressed vmlinux inside ${bzImage}`);
}

export function ensureLinuxGuest(root: string, io: IO): LinuxGuest {
  const dir = join(root, "build", "bench", "linux");
  const debs = join(dir, "debs");
  const tree = join(dir, "root");
  mkdirSync(debs, { recursive: true });
  const have = (re: RegExp) => readdirSync(debs).find((f) => re.test(f));

  // linux-image-cloud-amd64 is a metapackage: download what it depends on.
  if (!have(/^linux-image-\d.*-cloud-amd64_.*\.deb$/) || !have(/^busybox-static_.*\.deb$/)) {
    const deps = run(io, "apt-cache", ["depends", "linux-image-cloud-amd64"]);
    const m = /Depends:\s*(linux-image-\S+-cloud-amd64)/.exec(deps);
    if (!m) throw new UserError("apt-cache knows no linux-image-cloud-amd64: run apt-get update (bench/setup.sh does)");
    io.out(`linux guest: apt-get download ${m[1]} busybox-static → ${debs}`);
    run(io, "apt-get", ["download", "-q", m[1], "busybox-static"], debs);
  }
  const kdeb = have(/^linux-image-\d.*-cloud-amd64_.*\.deb$/)!;
  const bdeb = have(/^busybox-static_.*\.deb$/)!;
  const stamp = join(dir, "unpacked");
  if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== kdeb + "\n" + bdeb) {
    io.out(`linux guest: unpacking ${kdeb} and ${bdeb}`);
    rmSync(tree, { recursive: true, force: true });
    mkdirSync(tree, { recursive: true });
    run(io, "dpkg-deb", ["-x", join(debs, kdeb), tree]);
    run(io, "dpkg-deb", ["-x", join(debs, bdeb), tree]);
    rmSync(join(dir, "vmlinux"), { force: true });
    rmSync(join(dir, "initramfs.cpio.gz"), { force: true });
    writeFileSync(stamp, kdeb + "\n" + bdeb);
  }
  const bz = readdirSync(join(tree, "boot")).find((f) => f.startsWith("vmlinuz-"));
  if (!bz) throw new UserError(`${kdeb} has no boot/vmlinuz-*`);
  const kver = bz.slice("vmlinuz-".length);
  const vmlinux = join(dir, "vmlinux");
  if (!existsSync(vmlinux)) extractVmlinux(io, join(tree, "boot", bz), vmlinux);

  const initramfs = join(dir, "initramfs.cpio.gz");
  const busybox = join(tree, "bin", "busybox");
  const entries: CpioEntry[] = [
    { path: "bin", type: "dir" }, { path: "dev", type: "dir" }, { path: "proc", type: "dir" },
    { path: "sys", type: "dir" }, { path: "www", type: "dir" }, { path: "modules", type: "dir" },
    { path: "dev/console", type: "chardev", major: 5, minor: 1 },
    { path: "init", type: "file", data: Buffer.from(INIT_SCRIPT), mode: 0o755 },
    { path: "bin/busybox", type: "file", data: readFileSync(busybox), mode: 0o755 },
    { path: "www/index.html", type: "file", data: Buffer.from(INDEX_HTML) },
  ];
  for (const m of MODULES) {
    const ko = join(tree, "lib", "modules", kver, "kernel", m + ".ko");
    if (!existsSync(ko)) throw new UserError(`${kdeb}: module ${m}.ko not found (${ko})`);
    entries.push({ path: `modules/${m.split("/").pop()}.ko`, type: "file", data: readFileSync(ko) });
  }
  // gzip with no name and mtime 0 (node's gzip writes neither): the same inputs give the same bytes.
  const img = gzipSync(cpioNewc(entries), { level: 9 });
  if (!existsSync(initramfs) || !readFileSync(initramfs).equals(img)) writeFileSync(initramfs, img);
  const bbv = /^busybox-static_(?:\d+%3a)?([^_]+)_/.exec(bdeb)?.[1] ?? "?";
  return {
    vmlinux, initramfs,
    bzImageBytes: statSync(join(tree, "boot", bz)).size,
    kernelPackage: kdeb.replace(/_amd64\.deb$/, "").replace(/_/, " "),
    busyboxVersion: bbv.replace(/%3a/g, ":"),
    busybox,
  };
}

/** nginx in the Linux guest: Debian's package, one worker, keep-alive,
 *  sendfile, access log off, serving /www on port 80. */
export const NGINX_CONF = `user root;
worker_processes 1;
worker_rlimit_nofile 8192;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; use epoll; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  default_type text/html;
  client_body_temp_path /tmp/body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  server {
    listen 80 backlog=4096;
    root /www;
  }
}
`;

/** /init for the nginx guest: the common prologue, nginx, READY once port 80 listens. */
export const NGINX_INIT = `${INIT_PROLOGUE}mkdir -p /tmp /var/log/nginx /var/lib/nginx
nginx -e stderr -c /etc/nginx/nginx.conf -g 'daemon on;' || echo "init: nginx failed"
# The uptime CGI (bench/linux/servers.ts) stays with busybox httpd, on port 8000.
httpd -p 8000 -h /www
while ! grep -qE ':0050 [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
  usleep 10000
done
echo ${READY_LINE}
exec sleep 2147483647
`;

export interface NginxGuest {
  /** The reference initramfs with nginx, its libraries (found with ldd on the
   *  host: Debian 12 like the package) and NGINX_INIT appended. */
  initramfs: string;
  version: string;
}

/** Debian's nginx for the Linux guest (`apt-get download nginx`, unpacked, never installed). */
export function ensureNginxGuest(root: string, io: IO, g: LinuxGuest): NginxGuest {
  const dir = join(root, "build", "bench", "linux");
  const debs = join(dir, "debs");
  const have = () => readdirSync(debs).find((f) => /^nginx_.*\.deb$/.test(f));
  if (!have()) {
    io.out(`linux guest: apt-get download nginx → ${debs}`);
    run(io, "apt-get", ["download", "-q", "nginx"], debs);
  }
  const deb = have()!;
  const tree = join(dir, "root-nginx");
  const bin = join(tree, "usr", "sbin", "nginx");
  if (!existsSync(bin)) {
    rmSync(tree, { recursive: true, force: true });
    mkdirSync(tree, { recursive: true });
    run(io, "dpkg-deb", ["-x", join(debs, deb), tree]);
  }
  // The shared libraries nginx links (and the loader), from the host.
  const libs = run(io, "ldd", [bin]).split("\n")
    .map((l) => /=>\s*(\/\S+)/.exec(l)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(l)?.[1])
    .filter((p): p is string => !!p);
  if (libs.some((l) => l.includes("not found"))) throw new UserError(`ldd ${bin}: a library is missing on the host`);
  const entries: CpioEntry[] = [
    { path: "etc", type: "dir" }, { path: "etc/nginx", type: "dir" }, { path: "usr", type: "dir" },
    { path: "usr/sbin", type: "dir" }, { path: "tmp", type: "dir" }, { path: "var", type: "dir" },
    { path: "init", type: "file", data: Buffer.from(NGINX_INIT), mode: 0o755 },
    { path: "etc/nginx/nginx.conf", type: "file", data: Buffer.from(NGINX_CONF) },
    { path: "etc/passwd", type: "file", data: Buffer.from("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n") },
    { path: "etc/group", type: "file", data: Buffer.from("root:x:0:\nnogroup:x:65534:\n") },
    { path: "usr/sbin/nginx", type: "file", data: readFileSync(bin), mode: 0o755 },
  ];
  const dirs = new Set<string>(["etc", "etc/nginx", "usr", "usr/sbin", "tmp", "var"]);
  for (const l of libs) {
    const rel = l.replace(/^\//, "");
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d)) { dirs.add(d); entries.push({ path: d, type: "dir" }); }
    }
    entries.push({ path: rel, type: "file", data: readFileSync(l), mode: 0o755 });
  }
  const out = join(dir, "initramfs-nginx.cpio.gz");
  const img = Buffer.concat([readFileSync(g.initramfs), gzipSync(cpioNewc(entries), { level: 9 })]);
  if (!existsSync(out) || !readFileSync(out).equals(img)) writeFileSync(out, img);
  const version = /^nginx_(?:\d+%3a)?([^_]+)_/.exec(deb)?.[1] ?? "?";
  return { initramfs: out, version };
}
