// test/unit/wasm/virtio_net.ts — the virtio-net driver against a fake
// virtio-mmio net device in Node (test/unit/virtio-net.test.ts): feature
// negotiation and the virtio_net_hdr checksum fields both ways.
import { abortHandler } from "../../../kernel/core/panic";
import { BootInfo, Cmdline, MemRegion } from "../../../kernel/platform/bootinfo";
import { initMemory } from "../../../kernel/core/mm";
import { probeVirtio, virtioDeviceList, virtioDevices, netDevice, VirtioNet } from "../../../kernel/drivers/virtio";
import { FrameSink, FrameChain } from "../../../kernel/lib/net/device";

export function probe(cmdline: string): i32 {
  initMemory([new MemRegion(0x100000, 63 << 20, 1)]);
  const b = new BootInfo();
  b.cmdline = new Cmdline(cmdline);
  return probeVirtio(b, true);
}
export function deviceLines(): string {
  const l = virtioDeviceList();
  const out = new Array<string>();
  for (let i = 0; i < l.length; i++) out.push(l[i].line());
  return out.join("\n");
}

const frame = new StaticArray<u8>(14 + 65535);
export function frameBuf(): usize { return changetype<usize>(frame); }
export function txOffload(): bool { return netDevice(0)!.txChecksumOffload(); }
export function rxOffload(): bool { return netDevice(0)!.rxChecksumOffload(); }
export function send(len: i32, csumStart: i32, csumOffset: i32): bool {
  return netDevice(0)!.transmit(frameBuf(), len, csumStart, csumOffset);
}

export function tsoMax(): i32 { return netDevice(0)!.tsoMax(); }
export function sendTso(len: i32, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): bool {
  return netDevice(0)!.transmitTso(frameBuf(), len, csumStart, csumOffset, mss, hdrLen);
}

/** Zero copy: headers from frameBuf(), the payload read in place at p1 and
 *  p2 (offsets into frameBuf()). */
export function sendZc(hdrLen: i32, p1: i32, n1: i32, p2: i32, n2: i32, csumStart: i32, csumOffset: i32, mss: i32): u64 {
  return netDevice(0)!.transmitTsoZc(frameBuf(), hdrLen, frameBuf() + <usize>p1, n1, frameBuf() + <usize>p2, n2, csumStart, csumOffset, mss);
}
export function zcInFlight(seq: u64): bool { return netDevice(0)!.zcInFlight(seq); }
export function zeroCopy(): bool { return netDevice(0)!.txZeroCopy(); }

/** The last frame received, copied (it is valid only inside receive()). */
const got = new StaticArray<u8>(14 + 65535);
class Recorder extends FrameSink {
  frames: i32 = 0;
  flags: u32 = 0;
  len: i32 = 0;
  receive(f: usize, len: i32, flags: u32): void {
    this.frames++; this.flags = flags; this.len = len;
    memory.copy(changetype<usize>(got), f, <usize>min(len, got.length));
  }
}
export function gotBuf(): usize { return changetype<usize>(got); }
const rec = new Recorder();
export function poll(): i32 { return netDevice(0)!.poll(rec, 64); }
export function lastFlags(): u32 { return rec.flags; }
export function lastLen(): i32 { return rec.len; }

/** A sink that takes a packet in pieces as they lie (as the stack's
 *  Interface does for a TCP segment): copies each piece, never joins them. */
class ChainRecorder extends FrameSink {
  frames: i32 = 0;
  chains: i32 = 0;
  pieces: i32 = 0;
  len: i32 = 0;
  flattened: u64 = 0;
  receive(f: usize, len: i32, flags: u32): void {
    this.frames++; this.len = len;
    memory.copy(changetype<usize>(got), f, <usize>min(len, got.length));
  }
  receiveChain(c: FrameChain, flags: u32): void {
    this.frames++; this.chains++; this.pieces = c.count; this.len = c.total;
    c.copyOut(0, changetype<usize>(got), min(c.total, got.length));
    this.flattened = c.flattened;
  }
}
const chainRec = new ChainRecorder();
export function pollChain(): i32 { return netDevice(0)!.poll(chainRec, 64); }
export function chainStats(): string {
  return chainRec.frames.toString() + " " + chainRec.chains.toString() + " " + chainRec.pieces.toString() + " " +
    chainRec.len.toString() + " " + chainRec.flattened.toString();
}

function dev(): VirtioNet {
  const d = virtioDevices();
  for (let i = 0; i < d.length; i++) if (d[i] instanceof VirtioNet) return changetype<VirtioNet>(d[i]);
  throw new Error("test: no VirtioNet");
}
export function txOffloaded(): u64 { return dev().txCsumOffloaded; }
export function rxCsumValid(): u64 { return dev().rxCsumValid; }
export function txTso(): u64 { return dev().txTsoPackets; }
export function rxMerged(): u64 { return dev().rxMerged; }
export function rxLarge(): u64 { return dev().rxLarge; }
export function rxErrors(): u64 { return dev().stats.rxErrors; }
export { abortHandler };
