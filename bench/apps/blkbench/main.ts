// bench/apps/blkbench — the guest half of bench/virtio.ts (issue #4):
//   blk: sequential write then read of the whole first disk in CHUNK requests
//        (DEPTH in flight), then 4 KiB random reads (RDEPTH in flight) for
//        blkbench.rand_ms; all through the asynchronous API, completions by
//        interrupt, the event loop halting in between;
//   net: UDP frames (60 bytes) to 10.0.2.2:9 through the raw NetDevice, as
//        fast as the transmit ring takes them, for blkbench.net_ms.
// Times come from the guest clock (nowNs); lines `blkbench: <name> ...` are
// parsed by the host. Phases without their device are skipped.
import {
  println, bootInfo, blkDevice, blkCount, VirtioBlk, BlkRequest, BlkCallback, blkErrorName, BLK_OK, BLK_PENDING,
  SECTOR_SIZE, nowNs, netDevice, NetDevice, Task, spawn, requestExit, shouldYield,
} from "skiff";

const CHUNK: u32 = 128 * 1024;
const DEPTH: i32 = 8;
const RDEPTH: i32 = 32;
const RBLOCK: u32 = 4096;

let disk: VirtioBlk | null = null;
let mem: ArrayBuffer | null = null;     // kept reachable: the device writes into it
let buf: usize = 0;
let randMs: u64 = 2000;
let netMs: u64 = 2000;
let failures = 0;

// --- blk -------------------------------------------------------------------------

const PH_WRITE = 0;
const PH_READ = 1;
const PH_RAND = 2;
let phase = PH_WRITE;
let nextOff: u64 = 0;         // sequential phases: next byte offset to submit
let inFlight = 0;
let doneBytes: u64 = 0;
let doneReqs: u64 = 0;
let t0: u64 = 0;
let randEnd: u64 = 0;
let rng: u64 = 0x9e3779b97f4a7c15;
let irqs0: u64 = 0;

function capacityBytes(): u64 { return disk!.capacity * <u64>SECTOR_SIZE; }

class Done extends BlkCallback {
  done(r: BlkRequest): void {
    inFlight--;
    if (r.status != BLK_OK) { failures++; println("blkbench: request FAILED: " + blkErrorName(r.status)); }
    else { doneBytes += <u64>r.len; doneReqs++; }
    fill();
  }
}
const done = new Done();

function submitOne(): bool {
  const d = disk!;
  const slot = <usize>(inFlight % (phase == PH_RAND ? RDEPTH : DEPTH));
  let r: BlkRequest;
  if (phase == PH_RAND) {
    if (nowNs() >= randEnd) return false;
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;           // xorshift64
    const blocks = capacityBytes() / <u64>RBLOCK;
    const off = (rng % blocks) * <u64>RBLOCK;
    // Each in-flight read gets its own 4 KiB of the buffer (slot by count is
    // enough: the data is not looked at).
    r = d.read(off >> 9, buf + slot * <usize>RBLOCK, RBLOCK, done);
  } else {
    const cap = capacityBytes();
    if (nextOff >= cap) return false;
    let n = CHUNK;
    if (<u64>n > cap - nextOff) n = <u32>(cap - nextOff);
    const p = buf + slot * <usize>CHUNK;
    r = phase == PH_WRITE ? d.write(nextOff >> 9, p, n, done) : d.read(nextOff >> 9, p, n, done);
    nextOff += <u64>n;
  }
  if (r.status != BLK_PENDING) { failures++; println("blkbench: submit FAILED: " + blkErrorName(r.status)); return false; }
  inFlight++;
  return true;
}

/** Keeps the queue at its depth; ends the phase when nothing is left in flight. */
function fill(): void {
  const depth = phase == PH_RAND ? RDEPTH : DEPTH;
  while (inFlight < depth && failures == 0 && submitOne()) {}
  if (inFlight == 0) endPhase();
}

function startPhase(p: i32): void {
  phase = p;
  nextOff = 0;
  doneBytes = 0;
  doneReqs = 0;
  irqs0 = disk!.interrupts;
  t0 = nowNs();
  if (p == PH_RAND) randEnd = t0 + randMs * 1_000_000;
  fill();
}

function endPhase(): void {
  const ns = nowNs() - t0;
  const d = disk!;
  const name = phase == PH_WRITE ? "seqwrite" : phase == PH_READ ? "seqread" : "randread4k";
  println("blkbench: " + name + " bytes=" + doneBytes.toString() + " reqs=" + doneReqs.toString() + " ns=" + ns.toString() +
    " irqs=" + (d.interrupts - irqs0).toString());
  if (failures != 0) { requestExit(1); return; }
  if (phase == PH_WRITE) {
    // The writes are complete when the device says so: flush, timed separately.
    const f0 = nowNs();
    const e = d.flushSync();
    println("blkbench: flush " + blkErrorName(e) + " ns=" + (nowNs() - f0).toString());
    startPhase(PH_READ);
  } else if (phase == PH_READ) {
    startPhase(PH_RAND);
  } else {
    startNet();
  }
}

// --- net -------------------------------------------------------------------------

function put16(p: usize, v: u32): void { store<u8>(p, <u8>(v >> 8)); store<u8>(p + 1, <u8>v); }

/** 10.0.2.15:4000 -> 10.0.2.2:9 (discard), 18 bytes of payload: a 60-byte frame. */
function buildFrame(dev: NetDevice, f: usize): i32 {
  const len = 60;
  memory.fill(f, 0, len);
  const mac = dev.mac();
  for (let i = 0; i < 6; i++) { store<u8>(f + i, 0xff); store<u8>(f + 6 + i, mac[i]); }
  put16(f + 12, 0x0800);
  const ip = f + 14;
  store<u8>(ip, 0x45); put16(ip + 2, 20 + 8 + 18); store<u8>(ip + 8, 64); store<u8>(ip + 9, 17);
  store<u8>(ip + 12, 10); store<u8>(ip + 14, 2); store<u8>(ip + 15, 15);
  store<u8>(ip + 16, 10); store<u8>(ip + 18, 2); store<u8>(ip + 19, 2);
  let sum: u32 = 0;
  for (let i: usize = 0; i < 20; i += 2) sum += (<u32>load<u8>(ip + i) << 8) | load<u8>(ip + i + 1);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(ip + 10, ~sum & 0xffff);
  const udp = ip + 20;
  put16(udp, 4000); put16(udp + 2, 9); put16(udp + 4, 8 + 18);      // checksum 0: none (RFC 768)
  return len;
}

class Sender extends Task {
  frame: usize = 0;
  len: i32 = 0;
  sent: u64 = 0;
  refused: u64 = 0;
  start: u64 = 0;
  end: u64 = 0;
  constructor(public dev: NetDevice) {
    super("netbench");
    const b = new ArrayBuffer(64);
    this.keep = b;
    this.frame = changetype<usize>(b);
    this.len = buildFrame(dev, this.frame);
  }
  keep: ArrayBuffer | null = null;

  poll(now: u64): void {
    if (this.start == 0) { this.start = now; this.end = now + netMs * 1_000_000; }
    // Send until the ring is full or the quantum is used, then let the loop run.
    while (true) {
      const t = nowNs();
      if (t >= this.end) {
        println("blkbench: nettx frames=" + this.sent.toString() + " refused=" + this.refused.toString() +
          " ns=" + (t - this.start).toString() + " bytes=" + this.len.toString());
        this.finish();
        return;
      }
      if (this.dev.transmit(this.frame, this.len, -1, 0)) this.sent++;
      else this.refused++;          // ring full: the next transmit reclaims what the device used
      if (shouldYield()) break;
    }
    this.again();
  }
}

function startNet(): void {
  const dev = netDevice(0);
  if (dev === null) { println("blkbench: no NIC, net skipped"); return; }
  spawn(new Sender(dev));
}

export function main(): i32 {
  const cl = bootInfo().cmdline;
  const r = cl.get("blkbench.rand_ms");
  if (r !== null) randMs = <u64>I32.parseInt(r);
  const n = cl.get("blkbench.net_ms");
  if (n !== null) netMs = <u64>I32.parseInt(n);
  for (let i = 0; i < blkCount(); i++) {
    const d = blkDevice(i)!;
    if (d.ready && !d.readOnly) { disk = d; break; }
  }
  if (disk === null) {
    println("blkbench: no writable disk, blk skipped");
    startNet();
    return 0;
  }
  println("blkbench: disk " + disk!.name + " " + capacityBytes().toString() + " bytes, " + disk!.transport.irqMode);
  mem = new ArrayBuffer(<i32>CHUNK * DEPTH);
  buf = changetype<usize>(mem);
  // Touch the buffer so the write phase does not write zero pages only.
  for (let i: usize = 0; i < <usize>(<i32>CHUNK * DEPTH); i += 8) store<u64>(buf + i, <u64>i * 0x9e3779b97f4a7c15);
  startPhase(PH_WRITE);
  return 0;
}
