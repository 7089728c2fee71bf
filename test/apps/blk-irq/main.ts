// test/apps/blk-irq — completions by interrupt (test/system/virtio.test.ts).
// main() only starts a chain of asynchronous requests on the first writable
// disk and returns; the event loop runs them: each completion arrives as an
// interrupt (MSI-X on q35, the MMIO slot's GSI on microvm), its handler calls
// the BlkCallback, which submits the next request. Nothing polls the device,
// and the loop halts (sti; hlt) between completions. Writes WRITES requests
// of a sector pattern with up to DEPTH in flight, then reads them back and
// checks. Then PACED single reads, each submitted by a timer 1 ms after the
// previous completion: the loop halts before each, and only that request's
// interrupt can end the wait for it. Prints the interrupt counters; the host
// asserts on them.
// Then it idles IDLE_MS on a timer with every device still live (the test
// adds a NIC with receive buffers posted): the loop must halt, not spin.
import {
  println, blkDevice, blkCount, VirtioBlk, BlkRequest, BlkCallback, blkErrorName, BLK_OK, BLK_PENDING,
  SECTOR_SIZE, schedStats, requestExit, virtioDeviceList, after, TimerHandler,
} from "skiff";

const REQS: i32 = 64;          // requests per phase, one 4 KiB block each
const DEPTH: i32 = 4;          // in flight at once
const BLOCK: u32 = 4096;
const IDLE_MS: u64 = 300;
const PACED: i32 = 16;

let dev: VirtioBlk | null = null;
let bufObj: ArrayBuffer | null = null;   // kept reachable: the device writes into it
let buf: usize = 0;
let phase = 0;                 // 0 write, 1 read back, 2 paced reads
let submitted = 0;
let completed = 0;
let failures = 0;
let halts0: u64 = 0;
let irqs0: u64 = 0;

function byteAt(req: i32, i: u32): u8 {
  return <u8>(req * 31 + <i32>i * 7 + (<i32>i >> 9));
}

class Next extends BlkCallback {
  done(r: BlkRequest): void {
    completed++;
    const i = <i32>(r.sector / <u64>(BLOCK / SECTOR_SIZE));
    if (r.status != BLK_OK) {
      failures++;
      println("request " + i.toString() + " FAILED: " + blkErrorName(r.status));
    } else if (phase >= 1) {
      const p = buf + <usize>(i * <i32>BLOCK);
      for (let k: u32 = 0; k < BLOCK; k++) {
        if (load<u8>(p + k) != byteAt(i, k)) { failures++; println("read back " + i.toString() + " FAILED at " + k.toString()); break; }
      }
    }
    if (phase == 2) {
      if (completed == PACED) phaseDone();
      else after(1_000_000, pacer);
      return;
    }
    if (completed == REQS) {
      phaseDone();
      return;
    }
    if (submitted < REQS) submit();
  }
}
const next = new Next();

class Pacer extends TimerHandler {
  fire(now: u64): void { submit(); }
}
const pacer = new Pacer();

function submit(): void {
  const d = dev!;
  const i = submitted++;
  const p = buf + <usize>(i * <i32>BLOCK);
  const sector = <u64>i * <u64>(BLOCK / SECTOR_SIZE);
  const r = phase == 0 ? d.write(sector, p, BLOCK, next) : d.read(sector, p, BLOCK, next);   // phase 2 re-reads and checks
  if (r.status != BLK_PENDING) { failures++; println("submit " + i.toString() + " FAILED: " + blkErrorName(r.status)); completed++; }
}

function startPhase(): void {
  submitted = 0;
  completed = 0;
  if (phase == 0) {
    for (let i = 0; i < REQS; i++) for (let k: u32 = 0; k < BLOCK; k++) store<u8>(buf + <usize>(i * <i32>BLOCK) + k, byteAt(i, k));
  } else {
    memory.fill(buf, 0, <usize>(REQS * <i32>BLOCK));
  }
  if (phase == 2) { submit(); return; }
  for (let n = 0; n < DEPTH; n++) submit();
}

let burstIrqCompletions: u64 = 0;

function phaseDone(): void {
  const d = dev!;
  const n = phase == 2 ? PACED : REQS;
  println((phase == 0 ? "async writes " : phase == 1 ? "async reads " : "paced reads ") + n.toString() + " ... " + (failures == 0 ? "ok" : "FAILED"));
  const halts = schedStats().halts - halts0;
  if (phase < 2) {
    phase++;
    if (phase == 2) {
      println(d.name + " bursts: interrupts " + (d.interrupts - irqs0).toString() + ", completions by interrupt " +
        d.irqCompletions.toString() + " of " + (2 * REQS).toString() + ", loop halts " + halts.toString());
      irqs0 = d.interrupts;
      burstIrqCompletions = d.irqCompletions;
      halts0 = schedStats().halts;
    }
    startPhase();
    return;
  }
  println(d.name + " paced: interrupts " + (d.interrupts - irqs0).toString() + ", completions by interrupt " +
    (d.irqCompletions - burstIrqCompletions).toString() + " of " + PACED.toString() + ", loop halts " + halts.toString());
  const list = virtioDeviceList();
  for (let i = 0; i < list.length; i++) println("irq mode " + list[i].name + ": " + list[i].irq);
  passes0 = schedStats().passes;
  halts0 = schedStats().halts;
  after(IDLE_MS * 1_000_000, new IdleDone());
}

let passes0: u64 = 0;

class IdleDone extends TimerHandler {
  fire(now: u64): void {
    const s = schedStats();
    println("idle " + IDLE_MS.toString() + " ms: loop passes " + (s.passes - passes0).toString() + ", halts " + (s.halts - halts0).toString());
    println(failures == 0 ? "blk-irq: all ok" : "blk-irq: " + failures.toString() + " failed");
    if (failures != 0) requestExit(1);
  }
}

export function main(): i32 {
  for (let i = 0; i < blkCount(); i++) {
    const d = blkDevice(i)!;
    if (d.ready && !d.readOnly && d.capacity * <u64>SECTOR_SIZE >= <u64>(REQS * <i32>BLOCK)) { dev = d; break; }
  }
  if (dev === null) { println("blk-irq: no writable disk of " + (REQS * <i32>BLOCK).toString() + " bytes"); return 1; }
  bufObj = new ArrayBuffer(REQS * <i32>BLOCK);
  buf = changetype<usize>(bufObj);
  halts0 = schedStats().halts;
  irqs0 = dev!.interrupts;
  startPhase();
  // Return with requests in flight: they hold the event loop open, and their
  // callbacks run from it.
  return 0;
}
