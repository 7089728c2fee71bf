// kernel/net/socket/ring.ts — a fixed-capacity byte ring for socket send and
// receive buffers. Layer: socket. Offsets are relative to the oldest byte.

export class RingBuffer {
  buf: StaticArray<u8>;
  head: i32 = 0;      // index of the oldest byte
  len: i32 = 0;

  constructor(public capacity: i32) {
    this.buf = new StaticArray<u8>(capacity);
  }

  @inline get free(): i32 { return this.capacity - this.len; }

  /** Appends up to n bytes from src; returns how many fit. */
  write(src: usize, n: i32): i32 {
    if (n > this.free) n = this.free;
    if (n <= 0) return 0;
    this.copyIn(this.len, src, n);
    this.len += n;
    return n;
  }

  /** Copies n bytes from src to offset off (off + n <= capacity) without
   *  changing len: out-of-order data is placed ahead of the filled part. */
  copyIn(off: i32, src: usize, n: i32): void {
    const base = changetype<usize>(this.buf);
    let pos = (this.head + off) % this.capacity;
    const first = this.capacity - pos < n ? this.capacity - pos : n;
    memory.copy(base + <usize>pos, src, <usize>first);
    if (first < n) memory.copy(base, src + <usize>first, <usize>(n - first));
  }

  /** Copies up to n bytes starting at offset off into dst; returns the count. */
  peek(off: i32, dst: usize, n: i32): i32 {
    if (off >= this.len) return 0;
    if (n > this.len - off) n = this.len - off;
    const base = changetype<usize>(this.buf);
    const pos = (this.head + off) % this.capacity;
    const first = this.capacity - pos < n ? this.capacity - pos : n;
    memory.copy(dst, base + <usize>pos, <usize>first);
    if (first < n) memory.copy(dst + <usize>first, base, <usize>(n - first));
    return n;
  }

  /** Drops n bytes from the front. */
  discard(n: i32): void {
    if (n > this.len) n = this.len;
    this.head = (this.head + n) % this.capacity;
    this.len -= n;
    // head must not jump back to 0 when empty: out-of-order bytes may sit
    // beyond len at positions relative to it.
  }

  read(dst: usize, n: i32): i32 {
    const got = this.peek(0, dst, n);
    this.discard(got);
    return got;
  }
}
