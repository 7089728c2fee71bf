// kernel/lib/net/iface/arp.ts — the ARP cache (RFC 826, timeouts after RFC 1122
// §2.3.2.1): resolved entries expire, unresolved ones retry a few times and
// hold a short queue of IP packets that wait for the answer. Layer: iface.
// The cache never sends; the interface asks it what to do and sends.
import { MemAccount, NetCounters, Counter } from "../counters";

export const ARP_ENTRIES = 64;
export const ARP_REACHABLE_NS: i64 = 60_000_000_000;     // re-resolve after a minute
export const ARP_RETRY_NS: i64 = 1_000_000_000;
export const ARP_MAX_TRIES = 3;
export const ARP_PENDING_PER_ENTRY = 16;

export enum ArpState { Free = 0, Incomplete, Reachable }

export class ArpEntry {
  state: ArpState = ArpState.Free;
  ip: u32 = 0;
  mac: u64 = 0;
  /** Reachable: when it expires. Incomplete: when to retry. */
  deadline: i64 = 0;
  tries: i32 = 0;
  lastUsed: i64 = 0;
  /** IP packets (no Ethernet header) waiting for resolution, oldest first. */
  pending: Array<StaticArray<u8>> = [];
}

export class ArpCache {
  entries: StaticArray<ArpEntry> = new StaticArray<ArpEntry>(ARP_ENTRIES);
  constructor(public mem: MemAccount, public counters: NetCounters) {
    for (let i = 0; i < ARP_ENTRIES; i++) this.entries[i] = new ArpEntry();
  }

  find(ip: u32): ArpEntry | null {
    for (let i = 0; i < ARP_ENTRIES; i++) {
      const e = this.entries[i];
      if (e.state != ArpState.Free && e.ip == ip) return e;
    }
    return null;
  }

  /** The MAC for ip when resolved and fresh, else -1 (as i64). */
  lookup(ip: u32, now: i64): i64 {
    const e = this.find(ip);
    if (e == null || e.state != ArpState.Reachable || e.deadline <= now) return -1;
    e.lastUsed = now;
    return <i64>e.mac;
  }

  /** Records ip -> mac (RFC 826 "merge"); returns the entry so the caller can
   *  flush its pending packets. Only creates entries when create is set. */
  update(ip: u32, mac: u64, now: i64, create: bool): ArpEntry | null {
    let e = this.find(ip);
    if (e == null) {
      if (!create) return null;
      e = this.allocate(now);
      if (e == null) return null;
      e.ip = ip;
    }
    e.state = ArpState.Reachable;
    e.mac = mac;
    e.deadline = now + ARP_REACHABLE_NS;
    e.tries = 0;
    e.lastUsed = now;
    return e;
  }

  /** Starts (or continues) resolving ip and queues a copy of the packet.
   *  Returns true when a request should go out now (a new resolution). */
  enqueue(ip: u32, pkt: usize, len: i32, now: i64): bool {
    let e = this.find(ip);
    let fresh = false;
    if (e == null || e.state == ArpState.Reachable) {
      if (e == null) {
        e = this.allocate(now);
        if (e == null) { this.counters.inc(Counter.DropArpTableFull); return false; }
      }
      e.ip = ip;
      e.state = ArpState.Incomplete;
      e.tries = 1;
      e.deadline = now + ARP_RETRY_NS;
      e.lastUsed = now;
      fresh = true;
    }
    if (e.pending.length >= ARP_PENDING_PER_ENTRY || !this.mem.reserve(len)) {
      this.counters.inc(Counter.DropArpPendingFull);
      return fresh;
    }
    const copy = new StaticArray<u8>(len);
    memory.copy(changetype<usize>(copy), pkt, <usize>len);
    e.pending.push(copy);
    return fresh;
  }

  /** Takes the entry's queued packets (the caller sends them). */
  takePending(e: ArpEntry): Array<StaticArray<u8>> {
    const q = e.pending;
    e.pending = [];
    for (let i = 0; i < q.length; i++) this.mem.release(q[i].length);
    return q;
  }

  /** Expires entries; fills retry with the addresses to ask for again.
   *  Returns the next deadline. */
  poll(now: i64, retry: Array<u32>): i64 {
    let next = i64.MAX_VALUE;
    for (let i = 0; i < ARP_ENTRIES; i++) {
      const e = this.entries[i];
      if (e.state == ArpState.Free) continue;
      if (e.deadline <= now) {
        if (e.state == ArpState.Incomplete && e.tries < ARP_MAX_TRIES) {
          e.tries++;
          e.deadline = now + ARP_RETRY_NS;
          retry.push(e.ip);
        } else {
          if (e.state == ArpState.Incomplete) this.counters.add(Counter.DropArpUnresolved, <u64>e.pending.length);
          this.free(e);
          continue;
        }
      }
      if (e.deadline < next) next = e.deadline;
    }
    return next;
  }

  count(): i32 {
    let n = 0;
    for (let i = 0; i < ARP_ENTRIES; i++) if (this.entries[i].state != ArpState.Free) n++;
    return n;
  }

  private free(e: ArpEntry): void {
    this.takePending(e);
    e.state = ArpState.Free;
    e.ip = 0;
    e.mac = 0;
  }

  /** A free entry, else the least recently used resolved one. */
  private allocate(now: i64): ArpEntry | null {
    let victim: ArpEntry | null = null;
    for (let i = 0; i < ARP_ENTRIES; i++) {
      const e = this.entries[i];
      if (e.state == ArpState.Free) return e;
      if (e.state == ArpState.Reachable && (victim == null || e.lastUsed < victim.lastUsed)) victim = e;
    }
    if (victim != null) this.free(victim);
    return victim;
  }
}
