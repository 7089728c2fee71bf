// test/unit/wasm/httpheap.ts — what one hostile HTTP connection costs the AS
// heap: a server as apps/httpd runs it (default limits, a router), fed the
// way kernel/lib/http/tcp.ts feeds it (reads of at most 4 KiB), answered, closed.
// Node reads the heap between steps: bytes in use (TLSF blocks not free,
// live or garbage) and linear memory outside the page pool.
import { HttpServer, HttpConnection, Router, Handler, Request, Response } from "../../../kernel/lib/http";
import { initMemory, memStats, MemOwner, heapFreeBytes } from "../../../kernel/core/mm";
import { MemRegion } from "../../../kernel/platform/bootinfo";
export { abortHandler } from "../../../kernel/core/panic";

initMemory([new MemRegion(0, 0x9fc00, 1), new MemRegion(0x100000, (64 << 20) - 0x100000, 1)]);

class Hello extends Handler {
  handle(req: Request, res: Response): void { res.text(200, "hello"); }
}

let server: HttpServer | null = null;
const conns = new Array<HttpConnection | null>();
/** Live ballast: keeps the collector's threshold (twice the live heap) far
 *  above what a run allocates, so heapUsed() deltas are allocation volume. */
let ballast: StaticArray<u8> | null = null;

export function setup(ballastBytes: i32): void {
  const r = new Router();
  r.get("/index.html", new Hello());
  r.put("/kv/{key}", new Hello());
  server = new HttpServer(r);
  server!.maxConnections = 64;
  conns.length = 0;
  ballast = ballastBytes > 0 ? new StaticArray<u8>(ballastBytes) : null;
}

export function open(): i32 { conns.push(server!.open(1_000_000_000)); return conns.length - 1; }

/** Feeds len bytes at ptr in reads of at most 4 KiB, as tcp.ts does, sending
 *  (dropping) the output as it comes; returns how many bytes were taken. */
export function feed(c: i32, ptr: usize, len: i32): i32 {
  const k = conns[c]!;
  let off = 0;
  while (off < len) {
    const n = len - off < 4096 ? len - off : 4096;
    const took = k.feed(ptr + <usize>off, n, 1_000_000_000);
    const out = k.outputLength();
    if (out > 0) k.consumeOutput(out);
    if (took <= 0) break;
    off += took;
  }
  return off;
}

export function peerClosed(c: i32): void { conns[c]!.peerClosed(1_000_000_000); }
export function shouldClose(c: i32): bool { return conns[c]!.shouldClose(); }
/** The socket is gone: the connection is released and forgotten. */
export function close(c: i32): void { conns[c]!.close(); conns[c] = null; }

export function collect(): void {
  // @ts-ignore: the runtime builtin asc provides
  __collect();
}
/** Heap bytes not in TLSF's free lists (live objects and uncollected garbage). */
export function heapUsed(): u64 { return memStats().byOwner[MemOwner.Heap] - heapFreeBytes(); }
/** Linear memory outside the page pool. */
export function heapSize(): u64 { return memStats().byOwner[MemOwner.Heap]; }
/** Pool pages held for buffers (ByteBuf's large storage). */
export function netBytes(): u64 { return memStats().byOwner[MemOwner.NetBuffers]; }
export function active(): i32 { return server!.active; }
