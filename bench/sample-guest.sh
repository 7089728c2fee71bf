#!/usr/bin/env bash
# bench/sample-guest.sh — a sampling profile of a running guest: stops the
# vCPU through QEMU's gdbstub N times, records the function its pc is in
# (from an unstripped image, names kept), and prints the share of samples per
# function. The stop lands where the vCPU meets QEMU's big lock (an I/O
# access such as a virtio notify, a halt) or a translated block's start, so
# those points are over-represented: read idle time and kicks from the
# guest's counters (/metrics: skiff_sched_idle_seconds_total) and QEMU's
# trace events instead, and the shares of the rest as indicative.
# Usage: bench/sample-guest.sh IMAGE.debug.elf GDB_SOCKET [samples=250] [raw-out]
#   The guest must run with `-gdb unix:GDB_SOCKET,server=on,wait=off`; with
#   bench/profile-http.ts: QEMU_EXTRA="-gdb unix:/tmp/g.sock,server=on,wait=off".
#   Names: build with asc's --debug added to the release flags (same
#   optimisation), e.g. the image's `image.debug.elf` from such a build.
set -euo pipefail
elf=$1; sock=$2; n=${3:-250}; raw=${4:-$(mktemp)}
command -v gdb >/dev/null || { echo "sample-guest: gdb is not installed (apt-get install gdb)" >&2; exit 1; }
[ -S "$sock" ] || { echo "sample-guest: no gdbstub socket at $sock (is the guest running with -gdb unix:$sock,server=on,wait=off?)" >&2; exit 1; }
: > "$raw"
for _ in $(seq 1 "$n"); do
  timeout 5 gdb -q -nx -batch "$elf" -ex "target remote $sock" -ex 'info symbol $pc' -ex 'detach' 2>/dev/null |
    grep -E " in section " >> "$raw" || true
  sleep 0.02
done
python3 - "$raw" <<'PY'
import collections, re, sys
c = collections.Counter()
for line in open(sys.argv[1]):
    name = line.split(" + ")[0].split(" in section")[0]
    name = re.sub(r"0x([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), name)
    c[name.replace("w2c_kernel_", "").replace("~lib/skiff/kernel/", "")] += 1
total = sum(c.values()) or 1
print(f"{total} samples")
for k, v in c.most_common(40):
    print(f"{100 * v / total:5.1f} % {v:4d}  {k}")
PY
echo "raw: $raw"
