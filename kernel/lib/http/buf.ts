// kernel/lib/http/buf.ts — a growable byte queue: append at the tail, consume from
// the head. The HTTP server keeps its unparsed input and its unsent output in
// these. ptr is only valid until the next append (the storage may move).
//
// Small buffers live on the AS heap. From pagedMin on (64 KiB unless the
// owner asks for less), the storage is pages from kernel/core/mm's pool instead
// (owner NetBuffers), given back as soon as the buffer is emptied
// (consume/clear) or the object is collected (__finalize below): a 1 MiB
// response must not leave 1 MiB blocks in the heap, which never shrinks and
// which TLSF cannot refill with a same-sized block. The small heap storage
// is kept meanwhile, so emptying a paged buffer allocates nothing.
import { allocPages, freePages, MemOwner, PAGE_SIZE, PAGE_SHIFT } from "../../core/mm";

const PAGED_MIN: i32 = 64 << 10;
/** Heap storage up to this size is kept while a buffer is paged. */
const KEEP_HEAP: i32 = 1024;

export class ByteBuf {
  /** Heap storage: in use while pages is 0, kept for when the buffer
   *  empties while paged (null when it started paged). */
  private data: ArrayBuffer | null = null;
  private base: usize = 0;
  private cap: i32 = 0;
  /** Pages of pool storage (0: heap storage). */
  private pages: i32 = 0;
  private head: i32 = 0;   // first unconsumed byte
  private tail: i32 = 0;   // one past the last byte
  /** Storage of this many bytes or more is pool pages. */
  private pagedMin: i32 = PAGED_MIN;
  /** The storage the first append takes (none is taken before: many
   *  buffers — a GET's body, a connection's spare read buffer — never
   *  hold a byte). */
  private initCap: i32;

  /** pagedMin: a buffer that is usually small but may briefly hold a lot
   *  (a request line being assembled) can take pages from a lower size. */
  constructor(capacity: i32 = 256, pagedMin: i32 = PAGED_MIN) {
    this.pagedMin = pagedMin;
    this.initCap = capacity < 16 ? 16 : capacity;
  }

  get length(): i32 { return this.tail - this.head; }

  /** Address of the first unconsumed byte. */
  get ptr(): usize { return this.base + <usize>this.head; }

  /** Byte i of the unconsumed bytes; the caller keeps 0 <= i < length. */
  at(i: i32): u32 { return <u32>load<u8>(this.ptr + <usize>i); }

  /** New storage of cap bytes (the old is the caller's to copy and free;
   *  old heap storage stays this.data when the new is pages). */
  private setStorage(cap: i32): void {
    if (cap >= this.pagedMin) {
      const pages = (cap + PAGE_SIZE - 1) >> PAGE_SHIFT;
      const p = allocPages(pages, MemOwner.NetBuffers, false);
      if (p != 0) {
        this.base = p;
        this.pages = pages;
        this.cap = pages << PAGE_SHIFT;
        return;
      }
      // No pages: the heap it is (as before there were pages).
    }
    const d = new ArrayBuffer(cap);
    this.data = d;
    this.base = changetype<usize>(d);
    this.pages = 0;
    this.cap = cap;
  }

  /** Returns pool storage (the GC frees heap storage). Allocates nothing:
   *  also called from the collector (__finalize). */
  freePagesNow(): void {
    if (this.pages == 0) return;
    const p = this.base, n = this.pages;
    this.base = 0;
    this.pages = 0;
    this.cap = 0;
    freePages(p, n);
  }

  /** Empty, and back to small heap storage. */
  private shrink(): void {
    this.head = 0;
    this.tail = 0;
    if (this.pages == 0) return;
    this.freePagesNow();
    const d = this.data;
    if (d === null) return;              // no storage until the next append
    this.base = changetype<usize>(d);
    this.cap = d.byteLength;
  }

  private reserve(n: i32): void {
    const cap = this.cap;
    if (this.tail + n <= cap) return;
    const live = this.tail - this.head;
    if (live + n <= cap && this.head >= (cap >> 1)) {
      memory.copy(this.base, this.ptr, <usize>live);
    } else {
      // Double, but a large append gets exactly what it needs: a 1 MiB body
      // must not leave a 2 MiB buffer (and the copies before it) behind.
      let ncap = cap << 1;
      if (ncap < this.initCap) ncap = this.initCap;   // the first storage
      if (ncap < live + n) ncap = (live + n + 15) & ~15;
      const oldPtr = this.ptr;
      const oldPages = this.pages, oldBase = this.base;
      this.setStorage(ncap);               // old heap storage stays this.data meanwhile (a collection may run)
      memory.copy(this.base, oldPtr, <usize>live);
      if (oldPages > 0) freePages(oldBase, oldPages);
      // Now paged: small heap storage is kept for when the buffer empties,
      // larger is left to the collector (only now: it was the copy's source).
      const d = this.data;
      if (this.pages > 0 && d !== null && d.byteLength > KEEP_HEAP) this.data = null;
    }
    this.head = 0;
    this.tail = live;
  }

  append(src: usize, len: i32): void {
    if (len <= 0) return;
    this.reserve(len);
    memory.copy(this.base + <usize>this.tail, src, <usize>len);
    this.tail += len;
  }

  appendByte(b: u32): void {
    this.reserve(1);
    store<u8>(this.base + <usize>this.tail, <u8>b);
    this.tail++;
  }

  appendBytes(a: Uint8Array): void { this.append(a.dataStart, a.length); }

  /** Room for n bytes at the tail, to be filled in place and then added
   *  with grow(k) (k <= n); valid until the next call that appends. */
  space(n: i32): usize {
    this.reserve(n);
    return this.base + <usize>this.tail;
  }

  grow(k: i32): void { if (k > 0) this.tail += k; }

  appendBuf(b: ByteBuf): void { this.append(b.ptr, b.length); }

  /** Appends s as Latin-1: for protocol text (status lines, header names). Code
   *  units above 0xff become '?', so a header can never carry a raw CR or LF
   *  that it was not meant to (callers also check). */
  appendLatin1(s: string): void {
    const n = s.length;
    this.reserve(n);
    writeLatin1(this.base + <usize>this.tail, s, n);
    this.tail += n;
  }

  /** Appends the header line "name: value" CRLF (Latin-1) with one reserve. */
  appendHeaderLine(name: string, value: string): void {
    const a = name.length, b = value.length;
    const n = a + b + 4;
    this.reserve(n);
    const p = this.base + <usize>this.tail;
    writeLatin1(p, name, a);
    store<u16>(p + <usize>a, 0x203a);                     // ": "
    writeLatin1(p + <usize>(a + 2), value, b);
    store<u16>(p + <usize>(a + 2 + b), 0x0a0d);           // CR LF
    this.tail += n;
  }

  /** Appends s encoded as UTF-8 (lone surrogates become U+FFFD). */
  appendUtf8(s: string): void {
    const n = String.UTF8.byteLength(s);
    this.reserve(n);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, this.base + <usize>this.tail,
      false, String.UTF8.ErrorMode.REPLACE);
    this.tail += n;
  }

  /** Appends v in decimal (no string made on the way). */
  appendDecimal(v: u64): void {
    let digits = 1;
    for (let t = v; t >= 10; t /= 10) digits++;
    this.reserve(digits);
    let at = this.base + <usize>(this.tail + digits);
    let t = v;
    do {
      at--;
      store<u8>(at, <u8>(0x30 + <u32>(t % 10)));
      t /= 10;
    } while (t != 0);
    this.tail += digits;
  }

  /** Drops n bytes from the front; emptied, pool storage goes back at once. */
  consume(n: i32): void {
    if (n >= this.length) { this.shrink(); return; }
    if (n > 0) this.head += n;
  }

  clear(): void { this.shrink(); }

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

/** The collector frees a ByteBuf nobody emptied (a handler's response body,
 *  a connection dropped mid-response): its pool pages go back with it. AS
 *  calls a global __finalize for every object it frees, with the object's
 *  address; its class id is the u32 8 bytes before (the runtime's header). */
// @ts-ignore: decorator
@global function __finalize(ptr: usize): void {
  if (load<u32>(ptr - 8) == idof<ByteBuf>()) changetype<ByteBuf>(ptr).freePagesNow();
}

/** The n characters of s as Latin-1 bytes at dst ('?' for any beyond it):
 *  four at a time while all are Latin-1 (headers are ASCII), one 8-byte
 *  load and one 4-byte store each. */
// @ts-ignore: decorator
@inline function writeLatin1(dst: usize, s: string, n: i32): void {
  const src = changetype<usize>(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const w = load<u64>(src + (<usize>i << 1));
    if ((w & 0xff00ff00ff00ff00) != 0) break;
    store<u32>(dst + <usize>i, <u32>(w & 0xff) | <u32>((w >> 8) & 0xff00) | <u32>((w >> 16) & 0xff0000) | <u32>((w >> 24) & 0xff000000));
  }
  for (; i < n; i++) {
    const c = <u32>load<u16>(src + (<usize>i << 1));
    store<u8>(dst + <usize>i, <u8>(c > 0xff ? 0x3f : c));
  }
}
