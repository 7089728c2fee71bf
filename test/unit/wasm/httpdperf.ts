// test/unit/wasm/httpdperf.ts — httpd's per-request work without TCP, for
// bench/profile-httpd.ts: the app's Router + StaticFiles behind one kept-alive
// HttpConnection, fed the request wrk sends, the answer taken as tcp.ts would.
import { abortHandler } from "../../../kernel/core/panic";
import { HttpServer, HttpConnection, Router, FixedOffsetClock } from "skiff";
import { Site, MemoryStore } from "../../../apps/httpd/sitefs";
import { StaticFiles } from "../../../apps/httpd/static";

let image: ArrayBuffer = new ArrayBuffer(0);
let server: HttpServer | null = null;
let conn: HttpConnection | null = null;
let req: ArrayBuffer = new ArrayBuffer(0);

export function mount(img: ArrayBuffer, request: ArrayBuffer): string {
  image = img;
  req = request;
  const s = new Site(new MemoryStore(changetype<usize>(img), img.byteLength));
  if (!s.mount()) return s.problem;
  const f = new StaticFiles(s);
  const r = new Router();
  r.get("/", f);
  r.get("/{path...}", f);
  const srv = new HttpServer(r);
  srv.clock = new FixedOffsetClock(1_764_000_000_000_000_000);
  server = srv;
  const c = srv.open(0, 0x0a4f0001);
  c.directBody = true;               // as tcp.ts: the body pulled into the send ring
  conn = c;
  return "";
}

/** Stands in for the socket's send ring. */
const RING: i32 = 65536;
// @ts-ignore: decorator
@lazy const ring = new StaticArray<u8>(RING);

/** n requests on the one connection; returns the bytes answered. */
export function run(n: i32): i64 {
  const c = conn!;
  let out: i64 = 0;
  for (let i = 0; i < n; i++) {
    c.feed(changetype<usize>(req), req.byteLength, <u64>i * 1000);
    const len = c.outputLength();
    out += <i64>len;
    c.consumeOutput(len);
    while (c.bodyPending) {
      const got = c.pullBody(changetype<usize>(ring), RING);
      if (got <= 0) break;
      out += <i64>got;
    }
  }
  return out;
}

/** The first answer's text, to check it is a 200. */
export function once(): ArrayBuffer {
  const c = conn!;
  c.feed(changetype<usize>(req), req.byteLength, 0);
  return c.takeOutput().buffer;
}

export function collect(): void {
  // @ts-ignore: the runtime builtin asc provides
  __collect();
}
