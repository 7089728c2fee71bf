// kernel/lib/net/iface/fragment.ts — IPv4 reassembly (RFC 791 §3.2, RFC 815's
// idea of tracking holes, here as a bitmap of 8-byte blocks). Layer: iface.
// Limits: FRAG_SLOTS datagrams at once, each at most FRAG_MAX_DATAGRAM bytes,
// all within the stack's MemAccount; a datagram not complete within
// FRAG_TIMEOUT_NS is dropped. Overlaps take the newest bytes.
import { MemAccount, NetCounters, Counter } from "../counters";

export const FRAG_SLOTS = 4;
export const FRAG_MAX_DATAGRAM = 65535 - 20;
export const FRAG_TIMEOUT_NS: i64 = 15_000_000_000;   // RFC 791's suggested initial timer

class Datagram {
  active: bool = false;
  src: u32 = 0;
  dst: u32 = 0;
  protocol: u32 = 0;
  ident: u32 = 0;
  deadline: i64 = 0;
  /** Payload length once the last fragment (MF=0) arrived, else -1. */
  total: i32 = -1;
  buf: StaticArray<u8> = new StaticArray<u8>(0);
  /** One bit per 8-byte block received. */
  have: StaticArray<u8> = new StaticArray<u8>((FRAG_MAX_DATAGRAM + 63) / 64);
}

export class Reassembler {
  slots: StaticArray<Datagram> = new StaticArray<Datagram>(FRAG_SLOTS);
  /** After add() returned true: the reassembled payload. */
  done: StaticArray<u8> = new StaticArray<u8>(0);
  doneLen: i32 = 0;

  constructor(public mem: MemAccount, public counters: NetCounters) {
    for (let i = 0; i < FRAG_SLOTS; i++) this.slots[i] = new Datagram();
  }

  /** Adds one fragment's payload. Returns true when this completed the
   *  datagram: then done[0, doneLen) holds it until the next call. */
  add(src: u32, dst: u32, protocol: u32, ident: u32, offset: i32, more: bool,
      payload: usize, len: i32, now: i64): bool {
    this.counters.inc(Counter.FragIn);
    const end = offset + len;
    // Every fragment but the last carries a multiple of 8 bytes (RFC 791).
    if (end > FRAG_MAX_DATAGRAM || (more && (len & 7) != 0) || (more && len == 0)) {
      this.counters.inc(Counter.DropFragBad); return false;
    }
    let d = this.find(src, dst, protocol, ident);
    if (d == null) {
      d = this.start(src, dst, protocol, ident, now);
      if (d == null) { this.counters.inc(Counter.DropFragLimit); return false; }
    }
    if (!more) {
      if (d.total >= 0 && d.total != end) { this.drop(d); this.counters.inc(Counter.DropFragBad); return false; }
      d.total = end;
    }
    if (d.total >= 0 && end > d.total) { this.drop(d); this.counters.inc(Counter.DropFragBad); return false; }
    if (end > d.buf.length && !this.grow(d, end)) { this.drop(d); this.counters.inc(Counter.DropFragLimit); return false; }
    memory.copy(changetype<usize>(d.buf) + <usize>offset, payload, <usize>len);
    for (let b = offset >> 3; b < (end + 7) >> 3; b++) d.have[b >> 3] |= <u8>(1 << <u8>(b & 7));
    if (d.total < 0) return false;
    for (let b = 0; b < (d.total + 7) >> 3; b++) if (((<i32>d.have[b >> 3] >> (b & 7)) & 1) == 0) return false;
    this.done = d.buf;
    this.doneLen = d.total;
    this.drop(d);
    this.counters.inc(Counter.FragReassembled);
    return true;
  }

  /** Drops datagrams past their deadline; returns the next deadline. */
  poll(now: i64): i64 {
    let next = i64.MAX_VALUE;
    for (let i = 0; i < FRAG_SLOTS; i++) {
      const d = this.slots[i];
      if (!d.active) continue;
      if (d.deadline <= now) { this.drop(d); this.counters.inc(Counter.DropFragTimeout); continue; }
      if (d.deadline < next) next = d.deadline;
    }
    return next;
  }

  inProgress(): i32 {
    let n = 0;
    for (let i = 0; i < FRAG_SLOTS; i++) if (this.slots[i].active) n++;
    return n;
  }

  private find(src: u32, dst: u32, protocol: u32, ident: u32): Datagram | null {
    for (let i = 0; i < FRAG_SLOTS; i++) {
      const d = this.slots[i];
      if (d.active && d.src == src && d.dst == dst && d.protocol == protocol && d.ident == ident) return d;
    }
    return null;
  }

  private start(src: u32, dst: u32, protocol: u32, ident: u32, now: i64): Datagram | null {
    for (let i = 0; i < FRAG_SLOTS; i++) {
      const d = this.slots[i];
      if (d.active) continue;
      d.active = true;
      d.src = src; d.dst = dst; d.protocol = protocol; d.ident = ident;
      d.deadline = now + FRAG_TIMEOUT_NS;
      d.total = -1;
      memory.fill(changetype<usize>(d.have), 0, <usize>d.have.length);
      return d;
    }
    return null;
  }

  /** Grows the buffer in 2 KiB steps, within the memory account. */
  private grow(d: Datagram, need: i32): bool {
    let size = (need + 2047) & ~2047;
    if (size > FRAG_MAX_DATAGRAM) size = FRAG_MAX_DATAGRAM;
    if (!this.mem.reserve(size - d.buf.length)) return false;
    const nb = new StaticArray<u8>(size);
    memory.copy(changetype<usize>(nb), changetype<usize>(d.buf), <usize>d.buf.length);
    d.buf = nb;
    return true;
  }

  private drop(d: Datagram): void {
    d.active = false;
    this.mem.release(d.buf.length);
    d.buf = new StaticArray<u8>(0);
  }
}
