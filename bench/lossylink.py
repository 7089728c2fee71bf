#!/usr/bin/env python3
# bench/lossylink.py — a lossy, reordering, duplicating link between a QEMU NIC
# (`-netdev dgram`: one Ethernet frame per UDP datagram on 127.0.0.1) and a tap
# device this script makes (the caller moves it into a network namespace; the
# open fd keeps it attached). Frames from the tap to the guest get netem's
# treatment (`tc qdisc ... netem loss L% reorder R% duplicate D% delay Tms`,
# for hosts whose kernel has no sch_netem): lost with probability L, sent twice
# with probability D, and each copy delayed T ms except a fraction R sent at
# once (so those overtake the delayed ones: netem's "reorder" with a delay).
# Frames from the guest go to the tap untouched. Counts go to stdout on SIGTERM.
# Usage: lossylink.py TAP LOCAL_UDP_PORT QEMU_UDP_PORT LOSS REORDER DUPLICATE DELAY_MS SEED
import fcntl, heapq, os, random, select, signal, socket, struct, sys, time

tap, lport, qport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
loss, reorder, dup, delay = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]) / 1000
rnd = random.Random(int(sys.argv[8]))

TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", tap.encode(), IFF_TAP | IFF_NO_PI))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", lport))
qemu = ("127.0.0.1", qport)
stats = {"to_guest": 0, "lost": 0, "duplicated": 0, "reordered": 0, "delayed": 0, "from_guest": 0}
queue = []   # (due, seq, frame)
seq = 0

def done(*_):
    print(" ".join(f"{k}={v}" for k, v in stats.items()), flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, done)
print("ready", flush=True)
while True:
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        u.sendto(heapq.heappop(queue)[2], qemu)
    timeout = max(0.0, queue[0][0] - now) if queue else 1.0
    r, _, _ = select.select([fd, u], [], [], timeout)
    if u in r:
        frame = u.recv(65536)
        stats["from_guest"] += 1
        try:
            os.write(fd, frame)
        except OSError:         # the tap is not up yet (EIO): dropped, as a down link would
            stats["dropped_down"] = stats.get("dropped_down", 0) + 1
    if fd in r:
        frame = os.read(fd, 65536)
        stats["to_guest"] += 1
        if rnd.random() < loss:
            stats["lost"] += 1
            continue
        copies = 2 if rnd.random() < dup else 1
        if copies == 2:
            stats["duplicated"] += 1
        for _ in range(copies):
            if rnd.random() < reorder:
                stats["reordered"] += 1
                u.sendto(frame, qemu)
            else:
                stats["delayed"] += 1
                seq += 1
                heapq.heappush(queue, (time.monotonic() + delay, seq, frame))
