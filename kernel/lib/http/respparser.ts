// kernel/lib/http/respparser.ts — an incremental HTTP/1.1 response parser for the
// client (RFC 9112 §4 status line, §5 fields, §6.3 message body length, §7.1
// chunked coding). Any split of the input gives the same result (the unit
// tests feed one byte at a time). It never aborts: every input ends in
// RESP_DONE or RESP_ERROR with a sentence in `error`. Framing follows §6.3 in
// order: no body for HEAD, 1xx, 204 and 304; chunked when it is the final
// transfer coding; else Content-Length (repeated values must agree); else the
// body runs until the server closes. Interim 1xx responses are skipped.
import { ByteBuf } from "./buf";
import { Header } from "./request";

export const RESP_STATUS_LINE = 0;
export const RESP_HEADERS = 1;
export const RESP_BODY_LENGTH = 2;
export const RESP_CHUNK_SIZE = 3;
export const RESP_CHUNK_DATA = 4;
export const RESP_CHUNK_END = 5;
export const RESP_TRAILERS = 6;
export const RESP_BODY_CLOSE = 7;
export const RESP_DONE = 8;
export const RESP_ERROR = 9;

/** Where body bytes go when the caller streams instead of buffering. */
export abstract class BodySink {
  abstract data(ptr: usize, len: i32): void;
}

export class ResponseLimits {
  /** Status line plus header section. */
  maxHeaderBytes: i32 = 64 * 1024;
  maxHeaders: i32 = 100;
  /** Body bytes (decoded); -1 for no limit (a streaming sink). */
  maxBody: i64 = 16 << 20;
}

export class ResponseParser {
  state: i32 = RESP_STATUS_LINE;
  status: i32 = 0;
  reason: string = "";
  /** HTTP/1.x minor version. */
  minor: i32 = 1;
  headers: Array<Header> = [];
  body: ByteBuf = new ByteBuf(256);
  /** Decoded body bytes so far (also counted when a sink takes them). */
  bodyBytes: i64 = 0;
  sink: BodySink | null = null;
  error: string = "";
  /** The body is delimited by the connection's end (nothing after it can be reused). */
  closeDelimited: bool = false;
  chunked: bool = false;
  contentLength: i64 = -1;
  private connClose: bool = false;
  private connKeepAlive: bool = false;
  private line: ByteBuf = new ByteBuf(128);
  private headerBytes: i32 = 0;
  private remaining: i64 = 0;
  private noBody: bool = false;

  constructor(public limits: ResponseLimits = new ResponseLimits()) {}

  /** Starts over for a new response; head: the request was HEAD (no body). */
  reset(head: bool): void {
    this.state = RESP_STATUS_LINE;
    this.status = 0; this.reason = ""; this.minor = 1;
    this.headers = [];
    this.body = new ByteBuf(256);
    this.bodyBytes = 0;
    this.error = "";
    this.closeDelimited = false; this.chunked = false; this.contentLength = -1;
    this.connClose = false; this.connKeepAlive = false;
    this.line = new ByteBuf(128);
    this.headerBytes = 0;
    this.remaining = 0;
    this.noBody = head;
  }

  get done(): bool { return this.state == RESP_DONE; }
  get failed(): bool { return this.state == RESP_ERROR; }

  /** May the connection carry another request after this response? */
  get keepAlive(): bool {
    if (this.state != RESP_DONE || this.closeDelimited || this.connClose) return false;
    return this.minor >= 1 || this.connKeepAlive;
  }

  /** The first value of a header (case-insensitive name), or null. */
  header(name: string): string | null {
    for (let i = 0; i < this.headers.length; i++) {
      const h = unchecked(this.headers[i]);
      if (eqIgnoreCase(h.name, name)) return h.value;
    }
    return null;
  }

  /** Takes bytes; returns how many were used. Stops at the end of a
   *  response (bytes after it belong to nobody: the caller drops the
   *  connection if any remain) and at an error. */
  feed(ptr: usize, len: i32): i32 {
    let i = 0;
    while (i < len && this.state != RESP_DONE && this.state != RESP_ERROR) {
      const st = this.state;
      if (st == RESP_BODY_LENGTH || st == RESP_CHUNK_DATA || st == RESP_BODY_CLOSE) {
        let n = len - i;
        if (st != RESP_BODY_CLOSE && <i64>n > this.remaining) n = <i32>this.remaining;
        const took = this.takeBody(ptr + <usize>i, n);
        if (took < n) return i + took;            // over the limit: failed after taking what fitted
        i += n;
        if (st != RESP_BODY_CLOSE) {
          this.remaining -= n;
          if (this.remaining == 0) this.state = st == RESP_BODY_LENGTH ? RESP_DONE : RESP_CHUNK_END;
        }
        continue;
      }
      // Line-oriented states: collect up to LF.
      const b = <u32>load<u8>(ptr + <usize>i);
      i++;
      if (st == RESP_STATUS_LINE || st == RESP_HEADERS || st == RESP_TRAILERS) {
        if (++this.headerBytes > this.limits.maxHeaderBytes) { this.fail("header section larger than " + this.limits.maxHeaderBytes.toString() + " bytes"); break; }
      } else if (this.line.length > 1024) { this.fail("chunk size line too long"); break; }
      if (b != 10) { this.line.appendByte(b); continue; }
      // RFC 9112 §2.2: a recipient may accept a bare LF as a line terminator.
      let n = this.line.length;
      if (n > 0 && this.line.at(n - 1) == 13) n--;
      const lp = this.line.ptr;
      this.lineDone(lp, n);
      this.line.consume(this.line.length);
    }
    return i;
  }

  /** The server closed the connection: ends a close-delimited body, fails anything else. */
  eof(): void {
    if (this.state == RESP_BODY_CLOSE) { this.state = RESP_DONE; return; }
    if (this.state == RESP_DONE || this.state == RESP_ERROR) return;
    if (this.state == RESP_STATUS_LINE && this.line.length == 0 && this.status == 0) { this.fail("connection closed before a response"); return; }
    if (this.state == RESP_BODY_LENGTH) {
      this.fail("connection closed after " + this.bodyBytes.toString() + " of " + this.contentLength.toString() + " body bytes");
      return;
    }
    if (this.state >= RESP_CHUNK_SIZE && this.state <= RESP_TRAILERS) { this.fail("connection closed inside the chunked body after " + this.bodyBytes.toString() + " bytes"); return; }
    this.fail("connection closed inside the response header");
  }

  private fail(why: string): void {
    this.state = RESP_ERROR;
    this.error = why;
  }

  /** Takes up to n body bytes; fewer (after failing) when they would pass the limit. */
  private takeBody(p: usize, n: i32): i32 {
    if (n <= 0) return n;
    const max = this.limits.maxBody;
    let take = n;
    if (max >= 0 && this.bodyBytes + <i64>n > max) take = <i32>(max - this.bodyBytes);
    if (take > 0) {
      this.bodyBytes += take;
      const s = this.sink;
      if (s != null) s.data(p, take); else this.body.append(p, take);
    }
    if (take < n) this.fail("response body larger than " + max.toString() + " bytes");
    return take;
  }

  private lineDone(p: usize, n: i32): void {
    switch (this.state) {
      case RESP_STATUS_LINE: this.statusLine(p, n); break;
      case RESP_HEADERS: if (n == 0) this.endHeaders(); else this.field(p, n, false); break;
      case RESP_CHUNK_SIZE: this.chunkSize(p, n); break;
      case RESP_CHUNK_END:
        if (n != 0) this.fail("chunk data not followed by CRLF");
        else this.state = RESP_CHUNK_SIZE;
        break;
      case RESP_TRAILERS: if (n == 0) this.state = RESP_DONE; else this.field(p, n, true); break;
    }
  }

  /** HTTP-version SP 3DIGIT SP [reason] (RFC 9112 §4). */
  private statusLine(p: usize, n: i32): void {
    if (n == 0 && this.status == 0) return;      // RFC 9112 §2.2: tolerate an empty line before the start
    if (n < 12 || !startsWith(p, "HTTP/1.")) { this.fail("not an HTTP/1.x status line"); return; }
    const mv = <i32>load<u8>(p + 7) - 48;
    if (mv < 0 || mv > 9 || load<u8>(p + 8) != 32) { this.fail("bad HTTP version in the status line"); return; }
    let code = 0;
    for (let k = 9; k < 12; k++) {
      const d = <i32>load<u8>(p + <usize>k) - 48;
      if (d < 0 || d > 9) { this.fail("bad status code"); return; }
      code = code * 10 + d;
    }
    if (code < 100 || (n > 12 && load<u8>(p + 12) != 32)) { this.fail("bad status code"); return; }
    this.minor = mv;
    this.status = code;
    this.reason = n > 13 ? latin1(p + 13, n - 13) : "";
    this.state = RESP_HEADERS;
  }

  private field(p: usize, n: i32, trailer: bool): void {
    const first = <u32>load<u8>(p);
    if (first == 32 || first == 9) { this.fail("obsolete line folding in a header"); return; }
    let colon = -1;
    for (let k = 0; k < n; k++) if (load<u8>(p + <usize>k) == 58) { colon = k; break; }
    if (colon <= 0) { this.fail("header line without a name and colon"); return; }
    for (let k = 0; k < colon; k++) if (!isTchar(<u32>load<u8>(p + <usize>k))) { this.fail("bad character in a header name"); return; }
    let a = colon + 1, b = n;
    while (a < b && isOws(<u32>load<u8>(p + <usize>a))) a++;
    while (b > a && isOws(<u32>load<u8>(p + <usize>(b - 1)))) b--;
    for (let k = a; k < b; k++) {
      const c = <u32>load<u8>(p + <usize>k);
      if ((c < 32 && c != 9) || c == 127) { this.fail("control character in a header value"); return; }
    }
    if (trailer) return;                       // trailers are read and dropped
    if (this.headers.length >= this.limits.maxHeaders) { this.fail("more than " + this.limits.maxHeaders.toString() + " header fields"); return; }
    this.headers.push(new Header(latin1(p, colon), latin1(p + <usize>a, b - a)));
  }

  private endHeaders(): void {
    const st = this.status;
    if (st >= 100 && st < 200 && st != 101) {   // interim response: the real one follows
      const keep = this.noBody;
      this.reset(keep);
      this.headerBytes = 0;
      return;
    }
    // Connection options and framing.
    let te: string | null = null;
    let cl: i64 = -1;
    for (let i = 0; i < this.headers.length; i++) {
      const h = unchecked(this.headers[i]);
      if (eqIgnoreCase(h.name, "connection")) {
        const v = h.value.toLowerCase();
        if (hasToken(v, "close")) this.connClose = true;
        if (hasToken(v, "keep-alive")) this.connKeepAlive = true;
      } else if (eqIgnoreCase(h.name, "transfer-encoding")) {
        te = te == null ? h.value : te! + "," + h.value;
      } else if (eqIgnoreCase(h.name, "content-length")) {
        const v = parseContentLength(h.value);
        if (v < 0 || (cl >= 0 && v != cl)) { this.fail("bad or conflicting Content-Length"); return; }
        cl = v;
      }
    }
    if (this.noBody || st == 204 || st == 304 || st == 101) { this.state = RESP_DONE; return; }
    if (te != null) {
      // RFC 9112 §6.3 rule 4: chunked last means chunked; otherwise the body ends with the connection.
      if (lastCoding(te!.toLowerCase()) == "chunked") { this.chunked = true; this.state = RESP_CHUNK_SIZE; }
      else { this.closeDelimited = true; this.state = RESP_BODY_CLOSE; }
      if (cl >= 0) this.connClose = true;      // both present: never reuse the connection (§6.3 rule 3)
      return;
    }
    if (cl >= 0) {
      this.contentLength = cl;
      const max = this.limits.maxBody;
      if (max >= 0 && cl > max) { this.fail("response body of " + cl.toString() + " bytes is over the limit of " + max.toString()); return; }
      this.remaining = cl;
      this.state = cl == 0 ? RESP_DONE : RESP_BODY_LENGTH;
      return;
    }
    this.closeDelimited = true;
    this.state = RESP_BODY_CLOSE;
  }

  /** chunk-size [ chunk-ext ] (RFC 9112 §7.1). */
  private chunkSize(p: usize, n: i32): void {
    let size: i64 = 0;
    let k = 0;
    for (; k < n; k++) {
      const c = <u32>load<u8>(p + <usize>k);
      const d = hexValue(c);
      if (d < 0) break;
      if (k >= 15) { this.fail("chunk size too large"); return; }
      size = (size << 4) | d;
    }
    if (k == 0) { this.fail("bad chunk size"); return; }
    while (k < n && isOws(<u32>load<u8>(p + <usize>k))) k++;
    if (k < n && load<u8>(p + <usize>k) != 59) { this.fail("bad chunk size"); return; }   // ';' starts an extension (ignored)
    if (size == 0) { this.state = RESP_TRAILERS; return; }
    const max = this.limits.maxBody;
    if (max >= 0 && this.bodyBytes + size > max) { this.fail("response body larger than " + max.toString() + " bytes"); return; }
    this.remaining = size;
    this.state = RESP_CHUNK_DATA;
  }
}

// ------------------------------------------------------------------ helpers

function startsWith(p: usize, s: string): bool {
  for (let i = 0; i < s.length; i++) if (<u32>load<u8>(p + <usize>i) != <u32>s.charCodeAt(i)) return false;
  return true;
}

function latin1(p: usize, n: i32): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(<i32>load<u8>(p + <usize>i));
  return s;
}

// @ts-ignore: decorator
@inline
function isOws(c: u32): bool { return c == 32 || c == 9; }

function isTchar(c: u32): bool {
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return true;
  switch (c) {
    case 33: case 35: case 36: case 37: case 38: case 39: case 42: case 43: case 45: case 46:
    case 94: case 95: case 96: case 124: case 126: return true;
  }
  return false;
}

function hexValue(c: u32): i64 {
  if (c >= 48 && c <= 57) return <i64>(c - 48);
  if (c >= 97 && c <= 102) return <i64>(c - 87);
  if (c >= 65 && c <= 70) return <i64>(c - 55);
  return -1;
}

export function eqIgnoreCase(a: string, b: string): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x >= 65 && x <= 90) x += 32;
    if (y >= 65 && y <= 90) y += 32;
    if (x != y) return false;
  }
  return true;
}

/** 1*DIGIT, or a list of identical values ("5, 5"); -1 when invalid. */
function parseContentLength(v: string): i64 {
  let result: i64 = -1;
  const parts = v.split(",");
  for (let i = 0; i < parts.length; i++) {
    const s = parts[i].trim();
    if (s.length == 0 || s.length > 15) return -1;
    let x: i64 = 0;
    for (let k = 0; k < s.length; k++) {
      const c = s.charCodeAt(k);
      if (c < 48 || c > 57) return -1;
      x = x * 10 + <i64>(c - 48);
    }
    if (result >= 0 && x != result) return -1;
    result = x;
  }
  return result;
}

function hasToken(list: string, token: string): bool {
  const parts = list.split(",");
  for (let i = 0; i < parts.length; i++) if (parts[i].trim() == token) return true;
  return false;
}

function lastCoding(te: string): string {
  const parts = te.split(",");
  for (let i = parts.length - 1; i >= 0; i--) {
    const s = parts[i].trim();
    if (s.length > 0) {
      const semi = s.indexOf(";");
      return semi < 0 ? s : s.substring(0, semi).trim();
    }
  }
  return "";
}
