// test/unit/wasm/httpd.ts — drives the httpd app's site reader and static-file
// handler (apps/httpd) from Node: a site image built by cli/lib/sitefs.ts is
// mounted from memory and served through kernel/lib/http's connection core.
// App code imports the kernel as "skiff", so this entry does too.
import { abortHandler } from "../../../kernel/core/panic";
import { HttpServer, HttpConnection, Router } from "skiff";
import { Site, MemoryStore } from "../../../apps/httpd/sitefs";
import { StaticFiles } from "../../../apps/httpd/static";
import { mimeType } from "../../../apps/httpd/mime";

let image: ArrayBuffer = new ArrayBuffer(0);
let site: Site | null = null;
let files: StaticFiles | null = null;
let server: HttpServer | null = null;

/** Mounts img (kept alive here); returns "" or the problem. */
export function mount(img: ArrayBuffer, cacheBudget: u64): string {
  image = img;
  const s = new Site(new MemoryStore(changetype<usize>(img), img.byteLength));
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

/** One connection: feeds the bytes and returns everything it answered. */
export function exchange(req: ArrayBuffer): ArrayBuffer {
  const c: HttpConnection = server!.open(0);
  c.feed(changetype<usize>(req), req.byteLength, 1);
  const out = c.takeOutput();
  c.close();
  return out.buffer;
}
export function mime(path: string): string { return mimeType(path); }
