// kernel/core/sched/timer.ts — timers on a binary min-heap keyed by (deadline, seq):
// the earliest deadline first, equal deadlines in the order they were set.
// Each timer knows its heap index, so cancel is O(log n). Handlers are objects
// (no closures in AssemblyScript).

export abstract class TimerHandler {
  abstract fire(nowNs: u64): void;
}

export class Timer {
  /** Monotonic time (nowNs) when it fires. */
  deadline: u64 = 0;
  /** Non-zero for `every`: re-armed this far after each deadline. */
  period: u64 = 0;
  seq: u64 = 0;
  /** Position in the heap, -1 when not armed. */
  index: i32 = -1;
  /** A daemon timer does not keep the event loop alive by itself. */
  daemon: bool = false;
  fired: u64 = 0;
  constructor(public handler: TimerHandler) {}
  get armed(): bool { return this.index >= 0; }
}

export class TimerHeap {
  items: Timer[] = [];
  private seq: u64 = 0;
  /** Armed timers that are not daemons. */
  liveCount: i32 = 0;

  get size(): i32 { return this.items.length; }

  peek(): Timer | null {
    return this.items.length > 0 ? unchecked(this.items[0]) : null;
  }

  private less(a: Timer, b: Timer): bool {
    return a.deadline < b.deadline || (a.deadline == b.deadline && a.seq < b.seq);
  }

  private place(t: Timer, i: i32): void {
    unchecked(this.items[i] = t);
    t.index = i;
  }

  private up(i: i32): void {
    const t = unchecked(this.items[i]);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = unchecked(this.items[p]);
      if (!this.less(t, pt)) break;
      this.place(pt, i);
      i = p;
    }
    this.place(t, i);
  }

  private down(i: i32): void {
    const n = this.items.length;
    const t = unchecked(this.items[i]);
    while (true) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.less(unchecked(this.items[r]), unchecked(this.items[l]))) c = r;
      const ct = unchecked(this.items[c]);
      if (!this.less(ct, t)) break;
      this.place(ct, i);
      i = c;
    }
    this.place(t, i);
  }

  /** Arms t at deadline (re-arming moves it). */
  insert(t: Timer, deadline: u64): void {
    if (t.index >= 0) this.remove(t);
    t.deadline = deadline;
    t.seq = this.seq++;
    this.items.push(t);
    t.index = this.items.length - 1;
    if (!t.daemon) this.liveCount++;
    this.up(t.index);
  }

  /** Disarms t; false if it was not armed. */
  remove(t: Timer): bool {
    const i = t.index;
    if (i < 0 || i >= this.items.length || unchecked(this.items[i]) !== t) return false;
    const last = this.items.pop();
    t.index = -1;
    if (!t.daemon) this.liveCount--;
    if (last !== t) {
      this.place(last, i);
      this.down(i);
      this.up(last.index);
    }
    return true;
  }

  /** Marks t as a daemon (or not) while keeping liveCount right. */
  setDaemon(t: Timer, daemon: bool): void {
    if (t.daemon == daemon) return;
    if (t.index >= 0) this.liveCount += daemon ? -1 : 1;
    t.daemon = daemon;
  }

  /** Removes and returns the earliest timer if it is due at now. */
  popDue(now: u64): Timer | null {
    const top = this.peek();
    if (top === null || top.deadline > now) return null;
    this.remove(top);
    return top;
  }
}
