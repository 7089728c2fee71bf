// test/unit/wasm/httpd.ts — drives the httpd app's site reader and static-file
// handler (apps/httpd) from Node: a site image built by cli/lib/sitefs.ts is
// mounted from memory and served through kernel/lib/http's connection core.
// App code imports the kernel as "skiff", so this entry does too.
import { abortHandler } from "../../../kernel/core/panic";
import { HttpServer, HttpConnection, Router } from "skiff";
import { Site, MemoryStore, compareBytes } from "../../../apps/httpd/sitefs";
import { StaticFiles } from "../../../apps/httpd/static";
import { mimeType } from "../../../apps/httpd/mime";

let image: ArrayBuffer = new ArrayBuffer(0);
let site: Site | null = null;
let files: StaticFiles | null = null;
let server: HttpServer | null = null;

/** The image in memory but read like a disk (in sectors, no direct view):
 *  the cache and the streamed path (FileSource) of apps/httpd/sitefs.ts. */
class DiskLikeStore extends MemoryStore {
  direct(off: u64, len: i32): usize { return 0; }
}

/** Mounts img (kept alive here); returns "" or the problem. asDisk: through
 *  DiskLikeStore (cached up to cacheBudget, streamed beyond it). */
export function mount(img: ArrayBuffer, cacheBudget: u64, asDisk: bool): string {
  image = img;
  const s = new Site(asDisk ? new DiskLikeStore(changetype<usize>(img), img.byteLength) : new MemoryStore(changetype<usize>(img), img.byteLength));
  s.cacheBudget = cacheBudget;
  site = s;
  if (!s.mount()) return s.problem;
  const f = new StaticFiles(s);
  files = f;
  const r = new Router();
  r.get("/", f);
  r.get("/{path...}", f);
  server = new HttpServer(r);
  return "";
}
export function fileCount(): i32 { return site!.files.length; }
export function fileAt(i: i32): string { return site!.files[i].path + " " + site!.files[i].etag; }
export function setCacheControl(v: string): void { files!.cacheControl = v; }
export function checksumErrors(): u64 { return site!.checksumErrors; }
export function cachedBytes(): u64 { return site!.cachedBytes; }
export function diskReads(): u64 { return site!.reads; }
/** Flips a byte of the mounted image (damage after mount). */
export function poke(off: i32, v: u8): void { store<u8>(changetype<usize>(image) + <usize>off, v); }

/** One connection: feeds the bytes and returns everything it answered.
 *  direct: the body is pulled as HttpTcpService pulls it (straight into the
 *  send ring; here into the returned bytes), else through the output buffer. */
export function exchange(req: ArrayBuffer, direct: bool): ArrayBuffer {
  const c: HttpConnection = server!.open(0);
  c.directBody = direct;
  c.feed(changetype<usize>(req), req.byteLength, 1);
  let all = new Uint8Array(0);
  while (true) {
    const b = c.takeOutput();
    if (b.length == 0) break;
    const t = new Uint8Array(all.length + b.length);
    t.set(all, 0);
    t.set(b, all.length);
    all = t;
  }
  c.close();
  return all.buffer;
}

/** What a GET of a file leaves in the connection's output buffer when the
 *  transport pulls the body itself (directBody): the response head only;
 *  then the body's bytes, pulled as the TCP adapter pulls them, in pieces of
 *  at most piece bytes (the send ring's room). Returns "<output bytes>
 *  <body bytes pulled> <pulls> <output bytes seen during the pulls>". */
export function directPull(req: ArrayBuffer, piece: i32): string {
  const c: HttpConnection = server!.open(0);
  c.directBody = true;
  c.feed(changetype<usize>(req), req.byteLength, 1);
  const head = c.outputLength();
  c.consumeOutput(head);
  const dst = new Uint8Array(piece);
  let body = 0, pulls = 0, seen = 0;
  while (c.bodyPending) {
    const got = c.pullBody(dst.dataStart, piece);
    if (got <= 0) break;
    body += got;
    pulls++;
    seen += c.outputLength();
  }
  c.close();
  return head.toString() + " " + body.toString() + " " + pulls.toString() + " " + seen.toString();
}
export function mime(path: string): string { return mimeType(path); }

export function compare(a: string, b: string): i32 { return compareBytes(a, b); }
