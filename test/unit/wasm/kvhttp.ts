// test/unit/wasm/kvhttp.ts — kernel/lib/http's streamed bodies (Response.stream
// with a BodySource), as apps/kv's GET uses them: a connection driven by
// hand, output taken in pieces of any size.
import { abortHandler } from "../../../kernel/core/panic";
import { HttpServer, HttpConnection, Router, Handler, Request, Response, BodySource, MIME_TEXT } from "../../../kernel/lib/http";

/** n bytes of a pattern; fails (returns -1) once failAt bytes were given, if failAt >= 0. */
class Pattern extends BodySource {
  pos: i32 = 0;
  reads: i32 = 0;
  maxAsked: i32 = 0;
  constructor(public n: i32, public failAt: i32) { super(); }
  total(): i32 { return this.n; }
  read(dst: usize, max: i32): i32 {
    this.reads++;
    if (max > this.maxAsked) this.maxAsked = max;
    if (this.failAt >= 0 && this.pos >= this.failAt) return -1;
    let k = this.n - this.pos;
    if (k > max) k = max;
    for (let i = 0; i < k; i++) store<u8>(dst + <usize>i, <u8>(0x61 + (this.pos + i) % 26));
    this.pos += k;
    return k;
  }
}

let last: Pattern | null = null;

class Stream extends Handler {
  handle(req: Request, res: Response): void {
    const n = I32.parseInt(req.param("n")!);
    const f = req.queryParam("fail");
    const p = new Pattern(n, f === null ? -1 : I32.parseInt(f));
    last = p;
    res.stream(200, MIME_TEXT, p);
  }
}
class Hello extends Handler {
  handle(req: Request, res: Response): void { res.text(200, "hello"); }
}

let server: HttpServer | null = null;
let conn: HttpConnection | null = null;

export function setup(): void {
  const r = new Router();
  r.get("/stream/{n}", new Stream()).query("fail");
  r.get("/hello", new Hello());
  server = new HttpServer(r);
  server!.serverName = "";
  conn = server!.open(0);
}
export function feed(buf: ArrayBuffer): i32 { return conn!.feed(changetype<usize>(buf), buf.byteLength, 1_000_000_000); }
/** Up to n bytes of output, consumed. */
export function takeSome(n: i32): ArrayBuffer {
  const c = conn!;
  let k = c.outputLength();
  if (k > n) k = n;
  const out = new ArrayBuffer(k);
  memory.copy(changetype<usize>(out), c.outputPtr(), <usize>k);
  c.consumeOutput(k);
  return out;
}
export function pending(): i32 { return conn!.outputLength(); }
export function shouldClose(): bool { return conn!.shouldClose(); }
export function sourceReads(): i32 { return last === null ? 0 : last!.reads; }
export function sourceMaxAsked(): i32 { return last === null ? 0 : last!.maxAsked; }
