#!/usr/bin/env bash
# bench/setup.sh — what `npm run bench` (and `--vs linux`) needs on a fresh
# Debian 12 machine, installed with apt-get. The Linux reference guest itself
# (linux-image-cloud-amd64, busybox-static, nginx) is NOT installed: bench/linux/guest.ts
# fetches the .debs with `apt-get download` and unpacks them into build/bench/linux;
# nginx's shared libraries are copied from the host (found with ldd).
set -euo pipefail
PKGS=(
  qemu-system-x86   # the hypervisor both guests run in
  gcc binutils      # Skiff's build (and the floor ELF)
  libc6-dev         # libc.a: bench/linux/iobench is linked -static for the Linux guest
  lz4 xz-utils zstd # cutting the vmlinux out of the bzImage (Debian 12 uses LZ4)
  dpkg              # dpkg-deb -x
  wrk               # HTTP load
  curl              # the 16 MiB downloads of --vs linux (bench/lib/http.ts downloads)
  iproute2          # network namespaces for the tap runs
  libssl3 libpcre2-8-0 zlib1g libcrypt1  # what the guest's nginx links, copied from the host
)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "bench/setup.sh: everything is installed (${PKGS[*]})"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "bench/setup.sh: missing ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "bench/setup.sh: apt-get update"
apt-get update -qq
echo "bench/setup.sh: installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "bench/setup.sh: done"
