// test/system/net.test.ts — the TCP/IP stack in real QEMU (TCG, q35,
// virtio-net-pci on QEMU user networking): apps/echo gets its address by DHCP
// from QEMU (10.0.2.15), the host reaches it through hostfwd on 127.0.0.1 and
// checks TCP echo (16 MiB each way, 200 at once, 1000 in a row — a leak
// would hit the stack's memory limit and refuse connections) and UDP echo.
// Then a tap device in a network namespace, with Linux's stack as the peer.
// Checksum offload: QEMU offers VIRTIO_NET_F_CSUM/GUEST_CSUM only when the
// backend carries a virtio-net header (tap, vnet_hdr), never on user
// networking; the test checks the device line and the stack's counters
// for both, with the data intact either way.
import { afterAll, describe, expect, it } from "vitest";
import { connect, type Socket } from "node:net";
import { createSocket } from "node:dgram";
import { execFileSync } from "node:child_process";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { boot, stopAll } from "../../harness/index.js";
import { freePort } from "./ports.js";

afterAll(stopAll);

/** Sends data on a new connection, half-closes, resolves with everything echoed. */
function echo(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((res, rej) => {
    const chunks: Buffer[] = [];
    const s: Socket = connect(port, "127.0.0.1");
    s.on("data", (d) => chunks.push(d));
    s.on("end", () => res(Buffer.concat(chunks)));
    s.on("error", rej);
    s.end(data);
  });
}

/** A connection whose first byte came back: established end to end (QEMU's
 *  hostfwd accepts on the host side at once, with a listen backlog of 1). */
function open(port: number, first: Buffer): Promise<{ s: Socket; got: Buffer[]; done: Promise<Buffer> }> {
  return new Promise((res, rej) => {
    const got: Buffer[] = [];
    const s: Socket = connect(port, "127.0.0.1");
    let resolveDone!: (b: Buffer) => void;
    const done = new Promise<Buffer>((r) => (resolveDone = r));
    s.on("data", (d) => { got.push(d); if (got.length === 1) res({ s, got, done }); });
    s.on("end", () => resolveDone(Buffer.concat(got)));
    s.on("error", rej);
    s.write(first);
  });
}

const pattern = (n: number, k: number) => Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 31 + k) & 255));

describe("TCP/IP on q35 with QEMU user networking", () => {
  it("DHCP, TCP echo (16 MiB each way, 200 concurrent, 1000 in a row), UDP echo", async () => {
    const port = await freePort();
    const g = await boot({
      app: "apps/echo", machine: "q35", timeoutMs: 600000,
      net: "user", forwards: [`${port}:7`, `udp:${port}:7`],
    });
    await g.waitFor(/virtio: net0: virtio-net pci .* csum offload none/, 60000);
    await g.waitFor(/echo: listening on TCP and UDP port 7 at 10\.0\.2\.15/, 60000);
    // "listening" comes only once DHCP has bound the address (a client that
    // connects before then waits for a SYN retransmit).
    const out = g.output;
    const lease = out.search(/net: dhcp: 10\.0\.2\.15\/24 router 10\.0\.2\.2 dns 10\.0\.2\.3 from 10\.0\.2\.2/);
    expect(lease, out).toBeGreaterThanOrEqual(0);
    expect(out.indexOf("echo: listening on")).toBeGreaterThan(lease);
    expect(out).toContain("echo: TCP and UDP port 7 open; waiting for an address (DHCP)");

    const big = pattern(16 << 20, 1);
    const back = await echo(port, big);
    expect(back.length).toBe(big.length);
    expect(back.equals(big)).toBe(true);

    // 200 connections open at once: established a few at a time (hostfwd's
    // backlog), then all of them echo 1000 bytes concurrently.
    const conns: Awaited<ReturnType<typeof open>>[] = [];
    for (let i = 0; i < 200; i += 8) {
      conns.push(...(await Promise.all(Array.from({ length: Math.min(8, 200 - i) }, (_, k) => open(port, pattern(1000, i + k).subarray(0, 1))))));
    }
    conns.forEach((c, i) => c.s.end(pattern(1000, i).subarray(1)));
    const many = await Promise.all(conns.map((c) => c.done));
    many.forEach((b, i) => expect(b.equals(pattern(1000, i))).toBe(true));

    for (let i = 0; i < 1000; i++) expect((await echo(port, pattern(64, i))).equals(pattern(64, i))).toBe(true);

    const u = createSocket("udp4");
    const reply = await new Promise<Buffer>((res, rej) => {
      const t = setTimeout(() => rej(new Error("no UDP echo")), 10000);
      u.on("message", (m) => { clearTimeout(t); res(m); });
      u.send(Buffer.from("skiff udp"), port, "127.0.0.1");
    });
    expect(reply.toString()).toBe("skiff udp");
    // No offload on user networking: every checksum was made and checked in software.
    u.send(Buffer.from("stats"), port, "127.0.0.1");
    const tx = await g.waitFor(/tx_csum_offload (\d+)\n/, 10000);
    const rx = await g.waitFor(/rx_csum_offload (\d+)\n/, 10000);
    u.close();
    expect(Number(tx[1])).toBe(0);
    expect(Number(rx[1])).toBe(0);
    await g.stop();
  }, 600000);

  it("a static address from the command line wins over DHCP", async () => {
    const port = await freePort();
    const g = await boot({
      app: "apps/echo", machine: "q35", timeoutMs: 120000,
      net: "user", forwards: [`${port}:7`], staticIp: { ip: "10.0.2.15/24", gateway: "10.0.2.2" },
    });
    await g.waitFor(/net: eth0: 10\.0\.2\.15\/24 via 10\.0\.2\.2 \(static\)/, 60000);
    expect((await echo(port, Buffer.from("static"))).toString()).toBe("static");
    expect(g.output).not.toMatch(/dhcp:/);
    await g.stop();
  }, 120000);
});

// A tap device talks to the host's own Linux stack. QEMU opens the tap in the
// host namespace; the test then moves it into a namespace of its own (the fd
// stays attached), so nothing touches the host's interfaces, and runs the
// client there with `ip netns exec`. Needs root and /dev/net/tun.
// The client runs asynchronously: while it runs, the event loop must keep
// reading QEMU's stdout. A blocking call (execFileSync) stops that; QEMU
// writes the serial output a byte at a time into a socket that then fills
// after a few hundred bytes, the UART holds THR full, and the guest — which
// prints its counters on "stats" before the poll ends and sends the reply —
// waits out its spin limit and drops the rest of the text: the client only
// exits once the reply comes, so the output never arrives.
const canTap = process.getuid?.() === 0 && existsSync("/dev/net/tun");
const sh = (...a: string[]) => execFileSync(a[0], a.slice(1), { encoding: "utf8", timeout: 120000 });

describe.skipIf(!canTap)("TCP/IP over a tap device in a network namespace (Linux as the peer)", () => {
  it("ARP, ICMP echo, 1 MiB and 16 MiB (sha256) TCP echo and UDP echo with Linux's stack, checksums offloaded both ways, zero copy out", async () => {
    const tag = `sk${process.pid % 100000}`;
    const tap = `${tag}t`, ns = `${tag}n`;
    sh("ip", "tuntap", "add", "dev", tap, "mode", "tap");
    try {
      const g = await boot({
        app: "apps/echo", machine: "q35", timeoutMs: 180000,
        net: "tap", tap, staticIp: { ip: "10.77.0.2/24" },
      });
      // tap carries the virtio-net header: QEMU offers checksum and segmentation
      // offload (TSO4 both ways, with mergeable receive buffers) and we take them.
      await g.waitFor(/virtio: net0: virtio-net pci .* csum offload tx\+rx tso4 tx\+rx mrg_rxbuf/, 60000);
      await g.waitFor(/echo: listening on TCP and UDP port 7 at 10\.77\.0\.2/, 60000);
      sh("ip", "netns", "add", ns);
      try {
        sh("ip", "link", "set", tap, "netns", ns);
        sh("ip", "-n", ns, "addr", "add", "10.77.0.1/24", "dev", tap);
        sh("ip", "-n", ns, "link", "set", tap, "up");
        const client = `
import socket, struct, threading
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); r.settimeout(10)
m = struct.pack("!BBHHH", 8, 0, 0, 77, 1) + b"skiff-ping!!"
m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
r.sendto(m, ("10.77.0.2", 0))
while True:
    p, a = r.recvfrom(200)
    if p[20] == 0: break
print("icmp", a[0], p[20 + 8:].decode())
s = socket.create_connection(("10.77.0.2", 7), timeout=30)
data = bytes((i * 13) & 255 for i in range(1 << 20)); got = bytearray()
def rd():
    while True:
        b = s.recv(65536)
        if not b: break
        got.extend(b)
t = threading.Thread(target=rd); t.start(); s.sendall(data); s.shutdown(socket.SHUT_WR); t.join(60)
print("tcp", got == data, len(got))
# 16 MiB of random bytes: the echo leaves the guest zero-copy from its send
# ring (TSO packets read in place by the device); the digests must match.
import os, hashlib
s = socket.create_connection(("10.77.0.2", 7), timeout=60)
data = os.urandom(16 << 20); got = bytearray()
t = threading.Thread(target=rd); t.start(); s.sendall(data); s.shutdown(socket.SHUT_WR); t.join(120)
print("sha256", hashlib.sha256(data).hexdigest() == hashlib.sha256(got).hexdigest(), len(got))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(10)
u.sendto(b"tap udp", ("10.77.0.2", 7)); print("udp", u.recvfrom(100)[0].decode())
u.sendto(b"stats", ("10.77.0.2", 7)); u.recvfrom(100)
`;
        const out = (await execa("ip", ["netns", "exec", ns, "python3", "-c", client], { timeout: 120000 })).stdout;
        expect(out).toContain("icmp 10.77.0.2 skiff-ping!!");
        expect(out).toContain(`tcp True ${1 << 20}`);
        expect(out).toContain(`sha256 True ${16 << 20}`);
        expect(out).toContain("udp tap udp");
        // The 1 MiB went out with checksums the device finished (NEEDS_CSUM),
        // and came in with checksums it vouched for (DATA_VALID/NEEDS_CSUM):
        // Linux accepted ours, and the echo matched byte for byte above.
        const tx = await g.waitFor(/tx_csum_offload (\d+)\n/, 10000);
        const rx = await g.waitFor(/rx_csum_offload (\d+)\n/, 10000);
        const bad = await g.waitFor(/drop_tcp_bad_checksum (\d+)\n/, 10000);
        const txFrames = await g.waitFor(/\ntx_frames (\d+)\n/, 10000);
        const txBytes = await g.waitFor(/\ntx_bytes (\d+)\n/, 10000);
        const rxFrames = await g.waitFor(/\nrx_frames (\d+)\n/, 10000);
        const rxBytes = await g.waitFor(/\nrx_bytes (\d+)\n/, 10000);
        const zc = await g.waitFor(/\ntx_zero_copy (\d+)\n/, 10000);
        expect(Number(tx[1])).toBeGreaterThan(0);
        expect(Number(rx[1])).toBeGreaterThan(0);
        expect(Number(bad[1])).toBe(0);
        // 17 MiB is at least 17 × 719 full-size segments each way; with TSO
        // and the host's large segments (GRO) it took fewer, larger frames.
        expect(Number(txBytes[1])).toBeGreaterThan(17 << 20);
        expect(Number(rxBytes[1])).toBeGreaterThan(17 << 20);
        expect(Number(txFrames[1])).toBeLessThan(17 * 719);
        expect(Number(rxFrames[1])).toBeLessThan(17 * 719);
        // Most of what left went zero-copy (TSO packets read from the send ring).
        expect(Number(zc[1])).toBeGreaterThan(100);
      } finally {
        await g.stop();
        sh("ip", "netns", "del", ns);
      }
    } finally {
      try { sh("ip", "link", "del", tap); } catch { /* moved into the namespace and gone with it */ }
    }
  }, 240000);
});
