// kernel/http/buf.ts — a growable byte queue: append at the tail, consume from
// the head. The HTTP server keeps its unparsed input and its unsent output in
// these. ptr is only valid until the next append (the storage may move).

export class ByteBuf {
  private data: ArrayBuffer;
  private head: i32 = 0;   // first unconsumed byte
  private tail: i32 = 0;   // one past the last byte

  constructor(capacity: i32 = 256) {
    this.data = new ArrayBuffer(capacity < 16 ? 16 : capacity);
  }

  get length(): i32 { return this.tail - this.head; }

  /** Address of the first unconsumed byte. */
  get ptr(): usize { return changetype<usize>(this.data) + <usize>this.head; }

  /** Byte i of the unconsumed bytes; the caller keeps 0 <= i < length. */
  at(i: i32): u32 { return <u32>load<u8>(this.ptr + <usize>i); }

  private reserve(n: i32): void {
    const cap = this.data.byteLength;
    if (this.tail + n <= cap) return;
    const live = this.tail - this.head;
    if (live + n <= cap && this.head >= (cap >> 1)) {
      memory.copy(changetype<usize>(this.data), this.ptr, <usize>live);
    } else {
      let ncap = cap << 1;
      while (ncap < live + n) ncap <<= 1;
      const nd = new ArrayBuffer(ncap);
      memory.copy(changetype<usize>(nd), this.ptr, <usize>live);
      this.data = nd;
    }
    this.head = 0;
    this.tail = live;
  }

  append(src: usize, len: i32): void {
    if (len <= 0) return;
    this.reserve(len);
    memory.copy(changetype<usize>(this.data) + <usize>this.tail, src, <usize>len);
    this.tail += len;
  }

  appendByte(b: u32): void {
    this.reserve(1);
    store<u8>(changetype<usize>(this.data) + <usize>this.tail, <u8>b);
    this.tail++;
  }

  appendBytes(a: Uint8Array): void { this.append(a.dataStart, a.length); }

  /** Room for n bytes at the tail, to be filled in place and then added
   *  with grow(k) (k <= n); valid until the next call that appends. */
  space(n: i32): usize {
    this.reserve(n);
    return changetype<usize>(this.data) + <usize>this.tail;
  }

  grow(k: i32): void { if (k > 0) this.tail += k; }

  appendBuf(b: ByteBuf): void { this.append(b.ptr, b.length); }

  /** Appends s as Latin-1: for protocol text (status lines, header names). Code
   *  units above 0xff become '?', so a header can never carry a raw CR or LF
   *  that it was not meant to (callers also check). */
  appendLatin1(s: string): void {
    const n = s.length;
    this.reserve(n);
    const base = changetype<usize>(this.data) + <usize>this.tail;
    for (let i = 0; i < n; i++) {
      const c = <u32>s.charCodeAt(i);
      store<u8>(base + <usize>i, <u8>(c > 0xff ? 0x3f : c));
    }
    this.tail += n;
  }

  /** Appends s encoded as UTF-8 (lone surrogates become U+FFFD). */
  appendUtf8(s: string): void {
    const n = String.UTF8.byteLength(s);
    this.reserve(n);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, changetype<usize>(this.data) + <usize>this.tail,
      false, String.UTF8.ErrorMode.REPLACE);
    this.tail += n;
  }

  appendDecimal(v: u64): void { this.appendLatin1(v.toString()); }

  consume(n: i32): void {
    if (n >= this.length) { this.head = 0; this.tail = 0; return; }
    if (n > 0) this.head += n;
  }

  clear(): void { this.head = 0; this.tail = 0; }

  /** A copy of the unconsumed bytes. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    memory.copy(out.dataStart, this.ptr, <usize>this.length);
    return out;
  }

  /** The unconsumed bytes decoded as UTF-8 (invalid sequences become U+FFFD). */
  toUtf8String(): string {
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.length);
  }
}
