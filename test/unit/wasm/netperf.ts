// test/unit/wasm/netperf.ts — the profiling entry of bench/profile-net.mjs:
// two stacks joined by ring devices that behave like the virtio-net driver
// (one copy into a fixed slot on transmit, frames handed over in place on
// receive), with bench/apps/netbench's discard and source services on one
// side and a bulk client on the other. run() moves the bytes entirely inside
// Wasm on a fake clock, so a profile shows the stack's own cost per packet;
// conns() makes sequential one-byte echo connections (netbench's echo, as
// bench/linux/connclient.c drives it) for the cost of one connection's life.
import { NetDevice, FrameSink } from "../../../kernel/lib/net/device";
import { NetStack } from "../../../kernel/lib/net/stack";
import { NetConfig } from "../../../kernel/lib/net/config";
import { SeededEntropy } from "../../../kernel/lib/net/entropy";
import { Counter } from "../../../kernel/lib/net/counters";
import { TcpSocket, TcpHandler, TcpListener, TcpListenHandler } from "../../../kernel/lib/net/socket";
export { abortHandler } from "../../../kernel/core/panic";
import { initMemory } from "../../../kernel/core/mm";
import { MemRegion } from "../../../kernel/platform/bootinfo";

// Socket rings are pages from kernel/core/mm's pool: give it a machine (256 MiB),
// as test/unit/wasm/net.ts does (without a map the pool cannot grow and the
// first ring that wants pages stalls the transfer).
initMemory([new MemRegion(0, 0x9fc00, 1), new MemRegion(0x100000, (256 << 20) - 0x100000, 1)]);

const SLOT: usize = 2048;
const SLOTS: i32 = 128;                 // the driver's receive slots

/** A NIC whose transmit copies into the peer's receive ring. */
class RingDevice extends NetDevice {
  mem: StaticArray<u8> = new StaticArray<u8>(<i32>SLOT * SLOTS);
  lens: StaticArray<i32> = new StaticArray<i32>(SLOTS);
  head: i32 = 0;
  count: i32 = 0;
  peer: RingDevice | null = null;
  macBytes: StaticArray<u8> = new StaticArray<u8>(6);
  offload: bool = false;
  mac(): StaticArray<u8> { return this.macBytes; }
  mtu(): i32 { return 1500; }
  linkUp(): bool { return true; }
  txChecksumOffload(): bool { return this.offload; }
  rxChecksumOffload(): bool { return this.offload; }
  transmit(frame: usize, len: i32, csumStart: i32, csumOffset: i32): bool {
    const p = this.peer!;
    if (p.count == SLOTS) { this.stats.txDropped++; return false; }
    const i = (p.head + p.count) % SLOTS;
    memory.copy(changetype<usize>(p.mem) + SLOT * <usize>i, frame, <usize>len);
    unchecked(p.lens[i] = len);
    p.count++;
    this.stats.txPackets++;
    return true;
  }
  poll(sink: FrameSink, budget: i32): i32 {
    let n = 0;
    while (n < budget && this.count > 0) {
      const i = this.head;
      sink.receive(changetype<usize>(this.mem) + SLOT * <usize>i, unchecked(this.lens[i]), this.offload ? 1 : 0);
      this.head = (i + 1) % SLOTS;
      this.count--;
      n++;
    }
    return n;
  }
}

const buf = new StaticArray<u8>(16384);
let received: i64 = 0;
let target: i64 = 0;
let sent: i64 = 0;
let finished = false;

/** netbench's discard (port 9) and source (port 19). */
class Discard extends TcpHandler {
  readable(s: TcpSocket): void {
    while (true) {
      const n = s.read(changetype<usize>(buf), buf.length);
      if (n < 0) { s.close(); finished = true; return; }
      if (n == 0) return;
    }
  }
}
class Source extends TcpHandler {
  readable(s: TcpSocket): void {
    while (true) {
      const n = s.read(changetype<usize>(buf), buf.length);
      if (n < 0) { s.abort(); return; }
      if (n == 0) break;
    }
    this.writable(s);
  }
  writable(s: TcpSocket): void {
    while (s.writableBytes > 0) {
      const room = s.writableBytes;
      if (s.write(changetype<usize>(buf), room < buf.length ? room : buf.length) <= 0) return;
    }
  }
}
class Service extends TcpListenHandler {
  constructor(public h: TcpHandler) { super(); }
  accepted(l: TcpListener, s: TcpSocket): void { s.handler = this.h; this.h.writable(s); this.h.readable(s); }
}

/** The client: writes target bytes then closes (up), or reads target bytes then aborts (down). */
class Client extends TcpHandler {
  constructor(public up: bool) { super(); }
  connected(s: TcpSocket): void { if (this.up) this.writable(s); }
  writable(s: TcpSocket): void {
    if (!this.up) return;
    while (sent < target) {
      const room = s.writableBytes;
      if (room == 0) return;
      let n = <i32>(target - sent < <i64>buf.length ? target - sent : <i64>buf.length);
      if (n > room) n = room;
      const w = s.write(changetype<usize>(buf), n);
      if (w <= 0) return;
      sent += w;
    }
    s.close();
  }
  readable(s: TcpSocket): void {
    while (true) {
      const n = s.read(changetype<usize>(buf), buf.length);
      if (n <= 0) return;
      received += n;
      if (!this.up && received >= target) { s.abort(); finished = true; return; }
    }
  }
}

/** netbench's echo (port 7): what arrives goes back; closes at end of stream. */
class Echo extends TcpHandler {
  readable(s: TcpSocket): void {
    while (true) {
      const room = s.writableBytes;
      if (room == 0 && !s.atEof) return;
      const n = s.read(changetype<usize>(buf), room < buf.length ? room : buf.length);
      if (n < 0) { s.close(); return; }
      if (n == 0) return;
      s.write(changetype<usize>(buf), n);
    }
  }
}

/** connclient's side of one connection: one byte out, its echo back, close. */
let echoed = false;
class OneByte extends TcpHandler {
  connected(s: TcpSocket): void { s.write(changetype<usize>(buf), 1); }
  readable(s: TcpSocket): void {
    const n = s.read(changetype<usize>(buf), buf.length);
    if (n > 0 && !echoed) { echoed = true; s.close(); }
  }
}

function stack(dev: RingDevice, seed: u64, lo: u32, ip: u32): NetStack {
  const mac: u64 = 0x020000000000 | <u64>lo;
  for (let i = 0; i < 6; i++) dev.macBytes[i] = <u8>(mac >> (<u64>(5 - i) * 8));
  const c = new NetConfig();
  c.dhcp = false;
  c.addr = ip;
  c.prefixLen = 24;
  const s = new NetStack(dev, new SeededEntropy(seed), c);
  s.start(0);
  return s;
}

const A_IP: u32 = 0x0a090001, B_IP: u32 = 0x0a090002;
let da!: RingDevice, db!: RingDevice, sa!: NetStack, sb!: NetStack;
let now: i64 = 0;

export function setup(offload: bool): void {
  da = new RingDevice(); db = new RingDevice();
  da.peer = db; db.peer = da;
  da.offload = offload; db.offload = offload;
  sa = stack(da, 1, 0x0a, A_IP);
  sb = stack(db, 2, 0x0b, B_IP);
  sb.tcp.listen(9, new Service(new Discard()), 128);
  sb.tcp.listen(19, new Service(new Source()), 128);
  sb.tcp.listen(7, new Service(new Echo()), 128);
}

/** n sequential connections to echo, each one byte there and back, closed
 *  by the client first (connclient); returns the poll rounds (-1: one
 *  stalled). The server's TIME-WAIT-free passive close runs to the end. */
export function conns(n: i32, stepNs: i64): i64 {
  const client = new OneByte();
  let rounds: i64 = 0;
  for (let i = 0; i < n; i++) {
    echoed = false;
    const s = sa.tcp.connect(B_IP, 7, client);
    if (s == null) return -1;
    let r = 0;
    while ((!echoed || sb.tcp.connectionCount() > 0) && r < 10_000) {
      now += stepNs;
      sa.poll(now);
      sb.poll(now);
      r++;
    }
    if (r == 10_000) return -1;
    rounds += r;
  }
  return rounds;
}

/** Connections the server side holds, and its buffer bytes (both 0 when idle). */
export function serverConns(): i32 { return sb.tcp.connectionCount(); }
export function serverMem(): i64 { return sb.mem.used; }

/** Moves bytes up (to discard) or down (from source) over one connection;
 *  returns the poll rounds it took (-1: stalled). Time advances stepNs a round. */
export function run(up: bool, bytes: i64, stepNs: i64): i64 {
  target = bytes; sent = 0; received = 0; finished = false;
  const s = sa.tcp.connect(B_IP, up ? 9 : 19, new Client(up));
  if (s == null) return -1;
  let rounds: i64 = 0;
  while (!finished && rounds < 100_000_000) {
    now += stepNs;
    sa.poll(now);
    sb.poll(now);
    rounds++;
  }
  // Let the closes finish.
  for (let i = 0; i < 100; i++) { now += stepNs; sa.poll(now); sb.poll(now); }
  return finished ? rounds : -1;
}

export function frames(): u64 { return sa.counters.get(Counter.TxFrames) + sb.counters.get(Counter.TxFrames); }
export function counterA(i: i32): u64 { return sa.counters.get(i); }
export function counterB(i: i32): u64 { return sb.counters.get(i); }
export function drops(): u64 { return da.stats.txDropped + db.stats.txDropped; }
export function retransmits(): u64 { return sa.counters.get(Counter.TcpRetransmits) + sb.counters.get(Counter.TcpRetransmits); }
