#!/usr/bin/env python3
"""bench/insn-profile.py — guest instructions per request by function, from two
snapshots of bench/insn-count.c's per-block counts (profile-http.ts with
INSNS=tbs writes them around each wrk run) and the image's symbols.
Usage: insn-profile.py IMAGE.elf BEFORE AFTER REQUESTS [top=40]
The image must keep its function names (nm lists w2c_* symbols); blocks are
attributed to the function their first instruction lies in."""
import bisect, collections, re, subprocess, sys

elf, before, after, reqs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
top = int(sys.argv[5]) if len(sys.argv) > 5 else 40

def load(path):
    c = collections.Counter()
    for line in open(path):
        a, n, e = line.split()
        c[int(a, 16)] += int(n) * int(e)
    return c

delta = load(after)
delta.subtract(load(before))
syms = []
for line in subprocess.run(["nm", "-n", "--defined-only", elf], capture_output=True, text=True, check=True).stdout.splitlines():
    parts = line.split(maxsplit=2)
    if len(parts) == 3 and parts[1] in "tTwW":
        syms.append((int(parts[0], 16), parts[2]))
addrs = [a for a, _ in syms]

def name(addr):
    i = bisect.bisect_right(addrs, addr) - 1
    if i < 0:
        return "?"
    s = re.sub(r"0x([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), syms[i][1])
    return s.replace("w2c_kernel_", "").replace("~lib/skiff/kernel/", "")

by = collections.Counter()
for a, v in delta.items():
    if v > 0:
        by[name(a)] += v
total = sum(by.values()) or 1
print(f"{total / reqs:.0f} guest instructions per request over {reqs:.0f} requests")
for k, v in by.most_common(top):
    print(f"{100 * v / total:5.1f} % {v / reqs:8.0f}  {k}")

# With CALLERS= (profile-http.ts), the plugin also wrote which block ran just
# before each watched function's entry: its callers, per request.
def callers_of(path):
    c = collections.Counter()
    try:
        for line in open(path):
            callee, caller, n = line.split()
            c[(int(callee, 16), int(caller, 16))] += int(n)
    except FileNotFoundError:
        return None
    return c

cb, ca = callers_of(re.sub(r"\.txt$", "", before) + ".callers.txt"), callers_of(re.sub(r"\.txt$", "", after) + ".callers.txt")
if ca is not None:
    if cb is not None:
        ca.subtract(cb)
    per = collections.defaultdict(collections.Counter)
    for (callee, caller), n in ca.items():
        if n > 0:
            per[name(callee)][name(caller)] += n
    for callee, cs in per.items():
        print(f"\ncalls into {callee}: {sum(cs.values()) / reqs:.2f} per request, by caller")
        for k, v in cs.most_common(top):
            print(f"  {v / reqs:8.3f}  {k}")
