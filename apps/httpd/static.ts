// apps/httpd/static.ts — serves a Site over HTTP: GET and HEAD of files with
// their media type, strong ETags and conditional requests (RFC 9110 §8.8.3,
// §13.1.2 If-None-Match → 304), single byte ranges (RFC 9110 §14: 206 with
// Content-Range, 416 when unsatisfiable, If-Range), index.html for folders,
// and a redirect from /folder to /folder/.
import { Handler, HeaderLine, Request, Response, MIME_TEXT } from "skiff";
import { Site, SiteFile } from "./sitefs";
import { mimeType } from "./mime";

export class StaticStats {
  ok: u64 = 0;
  partial: u64 = 0;
  notModified: u64 = 0;
  notFound: u64 = 0;
  rangeNotSatisfiable: u64 = 0;
  errors: u64 = 0;
  bytes: u64 = 0;
}

/** What a Range header asks for, against a representation of size bytes. */
class ByteRange {
  /** RANGE_NONE (ignore it), RANGE_OK (first..last), RANGE_UNSATISFIABLE. */
  kind: i32 = 0;
  first: u64 = 0;
  last: u64 = 0;
}
const RANGE_NONE = 0;
const RANGE_OK = 1;
const RANGE_UNSATISFIABLE = 2;

// @ts-ignore: decorator
@lazy const ACCEPT_RANGES = new HeaderLine("Accept-Ranges", "bytes");

export class StaticFiles extends Handler {
  /** Cache-Control sent with every file ("" sends none); the app keeps it in sync with config. */
  cacheControl: string = "";
  /** File served for a folder ("/" or "/docs/"). */
  indexFile: string = "index.html";
  stats: StaticStats = new StaticStats();
  /** The Cache-Control line for cacheControl's current value. */
  private ccLine: HeaderLine | null = null;
  private ccFor: string = "";

  constructor(public site: Site) { super(); }

  handle(req: Request, res: Response): void {
    const p = req.param("path");
    let path = p === null ? "" : p;
    if (path.length == 0 || path.endsWith("/")) path += this.indexFile;
    const f = this.site.lookup(path);
    if (f === null) {
      // /docs where docs/ is a folder: send the client to /docs/ so relative links work.
      if (p !== null && !p.endsWith("/") && this.site.isDirectory(p)) {
        res.setHeader("Location", req.path + "/");
        res.text(301, "moved to " + req.path + "/\n");
        return;
      }
      this.stats.notFound++;
      res.text(404, "not found\n");
      return;
    }
    this.serve(req, res, f);
  }

  private serve(req: Request, res: Response, f: SiteFile): void {
    // A fresh response: added, not set (setHeader would look for earlier ones).
    // The lines are made once (per file, per Cache-Control value): adding
    // them allocates nothing.
    let etag = f.etagLine;
    if (etag === null) { etag = new HeaderLine("ETag", f.etag); f.etagLine = etag; }
    res.addLine(etag);
    res.addLine(ACCEPT_RANGES);
    const cc = this.cacheControl;
    if (cc.length > 0) {
      let line = this.ccLine;
      if (line === null || this.ccFor !== cc) { line = new HeaderLine("Cache-Control", cc); this.ccLine = line; this.ccFor = cc; }
      res.addLine(line);
    }
    // §13.2.2: If-None-Match is evaluated before Range; a match on GET/HEAD is 304.
    const inm = req.headerAll("if-none-match");
    if (inm !== null && etagListMatches(inm, f.etag)) {
      this.stats.notModified++;
      res.empty(304);
      return;
    }
    const size = f.size;
    let mime = f.mime;
    if (mime === null) { mime = mimeType(f.path); f.mime = mime; }
    // The body refers to the file's bytes (cache, embedded image) or reads
    // them from the disk as it goes: the connection copies them once, into
    // the socket's send buffer, and never into this response.
    let status = 200;
    let first: u64 = 0;
    let n = <i32>size;
    let contentRange: string | null = null;
    const range = req.method == "GET" ? req.header("range") : null;
    if (range !== null && ifRangeAllows(req.header("if-range"), f.etag)) {
      const r = parseRange(range, size);
      if (r.kind == RANGE_UNSATISFIABLE) {
        this.stats.rangeNotSatisfiable++;
        res.setHeader("Content-Range", "bytes */" + size.toString());
        res.text(416, "range not satisfiable\n");
        return;
      }
      if (r.kind == RANGE_OK) {
        status = 206;
        first = r.first;
        n = <i32>(r.last - r.first + 1);
        contentRange = "bytes " + r.first.toString() + "-" + r.last.toString() + "/" + size.toString();
      }
    }
    const src = this.site.source(f, <i32>first, n);
    if (src === null) {
      this.stats.errors++;
      res.text(500, "cannot read " + f.path + " (I/O or checksum error)\n");
      return;
    }
    if (contentRange !== null) res.setHeader("Content-Range", contentRange);
    res.stream(status, mime!, src);
    if (status == 206) this.stats.partial++; else this.stats.ok++;
    this.stats.bytes += <u64>n;
  }
}

/** If-None-Match: "*" or a list of entity tags, compared weakly (§13.1.2). */
export function etagListMatches(list: string, etag: string): bool {
  const l = list.trim();
  if (l == "*") return true;
  const tags = l.split(",");
  for (let i = 0; i < tags.length; i++) {
    let t = unchecked(tags[i]).trim();
    if (t.startsWith("W/")) t = t.substring(2);
    if (t == etag) return true;
  }
  return false;
}

/** If-Range (§13.1.5): absent, or our strong ETag exactly; a date or another
 *  tag means "send the whole thing". */
function ifRangeAllows(v: string | null, etag: string): bool {
  return v === null || v.trim() == etag;
}

/** Parses "bytes=first-last", "bytes=first-" or "bytes=-suffix" (§14.1.2).
 *  Several ranges, other units and malformed values are ignored (a server
 *  may always answer 200, §14.2); a well-formed range that starts past the
 *  end, or an empty suffix, is unsatisfiable (§15.5.17). */

function parseRange(h: string, size: u64): ByteRange {
  const r = new ByteRange();
  const v = h.trim();
  if (!v.startsWith("bytes=")) return r;
  const spec = v.substring(6).trim();
  if (spec.indexOf(",") >= 0) return r;
  const dash = spec.indexOf("-");
  if (dash < 0) return r;
  const a = spec.substring(0, dash).trim();
  const b = spec.substring(dash + 1).trim();
  if (a.length == 0) {
    const n = parseDigits(b);
    if (n < 0) return r;
    if (n == 0 || size == 0) { r.kind = RANGE_UNSATISFIABLE; return r; }
    const suffix = <u64>n;
    r.first = suffix >= size ? 0 : size - suffix;
    r.last = size - 1;
    r.kind = RANGE_OK;
    return r;
  }
  const first = parseDigits(a);
  if (first < 0) return r;
  let last: i64 = -1;
  if (b.length > 0) {
    last = parseDigits(b);
    if (last < 0 || last < first) return r;   // invalid: ignored (§14.1.1)
  }
  if (<u64>first >= size) { r.kind = RANGE_UNSATISFIABLE; return r; }
  r.first = <u64>first;
  r.last = last < 0 || <u64>last >= size ? size - 1 : <u64>last;
  r.kind = RANGE_OK;
  return r;
}

/** A decimal of 1..18 digits, or -1. */
function parseDigits(s: string): i64 {
  if (s.length == 0 || s.length > 18) return -1;
  let v: i64 = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + <i64>(c - 0x30);
  }
  return v;
}

/** A page for an httpd with no site at all, so the operator sees why. */
export function noSitePage(res: Response, why: string): void {
  res.send(503, MIME_TEXT, "httpd: no site to serve: " + why + "\n" +
    "Pack a folder with `skiff mkfs <folder> -o site.img` and attach it with --disk site.img,ro,\n" +
    "or build with `skiff build apps/httpd --embed <folder>`.\n");
}
