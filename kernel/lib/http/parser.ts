// kernel/lib/http/parser.ts — incremental HTTP/1.1 request parser (RFC 9112).
// Bytes arrive in pieces of any size; feed() consumes up to the end of one
// request and stops, so pipelined requests stay in the caller's buffer. Any
// malformed or over-limit input ends in STATE_ERROR with the status to send
// (400, 411, 413, 414, 417, 431, 501, 505); no input aborts.
//
// Framing follows RFC 9112 §6.3 strictly, because a lenient reading is what
// request smuggling exploits: Transfer-Encoding with Content-Length, a
// Transfer-Encoding whose last coding is not chunked, differing Content-Length
// values and obs-fold lines are all rejected with 400.
import { ByteBuf } from "./buf";
import { Header, Request, charIndex } from "./request";
import { HttpLimits } from "./limits";

export const STATE_REQUEST_LINE: i32 = 0;
export const STATE_HEADERS: i32 = 1;
export const STATE_BODY: i32 = 2;          // Content-Length bytes
export const STATE_CHUNK_SIZE: i32 = 3;    // chunk-size [ chunk-ext ] CRLF
export const STATE_CHUNK_DATA: i32 = 4;
export const STATE_CHUNK_END: i32 = 5;     // the CRLF after chunk-data
export const STATE_TRAILERS: i32 = 6;      // trailer-section CRLF
export const STATE_DONE: i32 = 7;
export const STATE_ERROR: i32 = 8;

const CR: u32 = 0x0d;
const LF: u32 = 0x0a;
const SP: u32 = 0x20;
const HTAB: u32 = 0x09;

/** Index of the first byte b in [from, to) at p, or to when there is none.
 *  Eight bytes per step: in x = word ^ (b in every byte), a byte that
 *  matched is zero, and (x - 0x01..01) & ~x & 0x80..80 sets the top bit of
 *  the lowest zero byte (a borrow only runs upward from a zero byte, so the
 *  lowest flag is a true match; little-endian: the first byte in memory). */
export function findByte(p: usize, from: i32, to: i32, b: u32): i32 {
  const ones: u64 = 0x0101010101010101;
  const pat = ones * <u64>b;
  let i = from;
  while (i + 8 <= to) {
    const x = load<u64>(p + <usize>i) ^ pat;
    const t = (x - ones) & ~x & 0x8080808080808080;
    if (t != 0) return i + <i32>(ctz(t) >> 3);
    i += 8;
  }
  while (i < to && <u32>load<u8>(p + <usize>i) != b) i++;
  return i;
}

/** tchar (RFC 9110 §5.6.2): the characters of a token. */
function isTchar(c: u32): bool {
  if (c >= 0x30 && c <= 0x39) return true;              // DIGIT
  if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) return true;  // ALPHA
  switch (c) {
    case 0x21: case 0x23: case 0x24: case 0x25: case 0x26: case 0x27: case 0x2a:
    case 0x2b: case 0x2d: case 0x2e: case 0x5e: case 0x5f: case 0x60: case 0x7c: case 0x7e:
      return true;
  }
  return false;
}

export function isToken(s: string): bool {
  if (s.length == 0) return false;
  const p = changetype<usize>(s);
  for (let i = 0; i < s.length; i++) if (!isTchar(<u32>load<u16>(p + (<usize>i << 1)))) return false;
  return true;
}

function latin1(ptr: usize, from: i32, to: i32): string {
  if (to <= from) return "";
  // Latin-1 bytes are the first 256 code points: widen each byte.
  // @ts-ignore: __new is a runtime builtin asc provides
  const s = changetype<string>(__new(<usize>(to - from) << 1, idof<string>()));
  for (let i = from; i < to; i++) {
    store<u16>(changetype<usize>(s) + (<usize>(i - from) << 1), <u16>load<u8>(ptr + <usize>i));
  }
  return s;
}

/** latin1() of a header name (a token: ASCII), lowercased as it is widened. */
function latin1Lower(ptr: usize, from: i32, to: i32): string {
  if (to <= from) return "";
  // @ts-ignore: __new is a runtime builtin asc provides
  const s = changetype<string>(__new(<usize>(to - from) << 1, idof<string>()));
  for (let i = from; i < to; i++) {
    let c = <u32>load<u8>(ptr + <usize>i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    store<u16>(changetype<usize>(s) + (<usize>(i - from) << 1), <u16>c);
  }
  return s;
}

/** Whether the n bytes at ptr are lit, ASCII letters compared without case
 *  (lit is lower case). */
function bytesEqualLower(ptr: usize, n: i32, lit: string): bool {
  if (n != lit.length) return false;
  for (let i = 0; i < n; i++) {
    let c = <u32>load<u8>(ptr + <usize>i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c != <u32>load<u16>(changetype<usize>(lit) + (<usize>i << 1))) return false;
  }
  return true;
}

/** Header names most requests carry, as static strings: a request's names
 *  cost no allocation when they are among these. */
// @ts-ignore: decorator
@lazy const COMMON_NAMES: string[] = ["host", "accept", "connection", "user-agent", "content-type", "content-length",
  "accept-encoding", "accept-language", "authorization", "if-none-match", "cache-control", "transfer-encoding", "range"];

/** The lower-cased header name at ptr[0, n): a static string when common. */
function headerName(ptr: usize, n: i32): string {
  const names = COMMON_NAMES;
  for (let i = 0; i < names.length; i++) {
    const lit = unchecked(names[i]);
    if (lit.length == n && bytesEqualLower(ptr, n, lit)) return lit;
  }
  return latin1Lower(ptr, 0, n);
}

/** The method token at ptr[0, n): a static string for the usual ones
 *  (methods are case-sensitive, RFC 9110 §9.1). */
function methodName(ptr: usize, n: i32): string {
  if (n == 3) {
    if (load<u8>(ptr) == 0x47 && load<u8>(ptr, 1) == 0x45 && load<u8>(ptr, 2) == 0x54) return "GET";
    if (load<u8>(ptr) == 0x50 && load<u8>(ptr, 1) == 0x55 && load<u8>(ptr, 2) == 0x54) return "PUT";
  } else if (n == 4) {
    const w = load<u32>(ptr);
    if (w == 0x44414548) return "HEAD";   // "HEAD", little-endian
    if (w == 0x54534f50) return "POST";
  }
  return latin1(ptr, 0, n);
}

export class RequestParser {
  state: i32 = STATE_REQUEST_LINE;
  /** Status to answer with once state is STATE_ERROR. */
  status: i32 = 0;
  /** Why, for the error body (never echoes request bytes). */
  reason: string = "";
  req: Request = new Request();
  /** True once any byte of the current request has arrived (408 vs silent close). */
  started: bool = false;
  /** The header section is complete (feed() stops right after it once, so the
   *  server can admit or refuse the request before any content is read). */
  headersDone: bool = false;

  /** A line that arrived in pieces (a whole line is parsed where it lies);
   *  past 256 bytes it takes pool pages, returned when the line is done. */
  private line: ByteBuf = new ByteBuf(256, 512);
  private emptyLines: i32 = 0;
  private headerBytes: i32 = 0;
  private headerCount: i32 = 0;
  private remaining: i64 = 0;
  private hostCount: i32 = 0;
  /** A Connection or Expect field was among the headers (read whole once they are in). */
  private sawConnection: bool = false;
  private sawExpect: bool = false;
  private clValue: i64 = -1;
  private clBad: bool = false;
  private te: string | null = null;

  constructor(public limits: HttpLimits) {}

  reset(): void {
    this.state = STATE_REQUEST_LINE;
    this.status = 0;
    this.reason = "";
    this.req = new Request();
    this.started = false;
    this.headersDone = false;
    this.line.clear();
    this.emptyLines = 0;
    this.headerBytes = 0;
    this.headerCount = 0;
    this.remaining = 0;
    this.hostCount = 0;
    this.sawConnection = false;
    this.sawExpect = false;
    this.clValue = -1;
    this.clBad = false;
    this.te = null;
  }

  /** The connection ended: a line held in pieces and a body being received
   *  give their pool pages back now rather than when collected. */
  release(): void {
    this.line.clear();
    this.req.clearBody();
  }

  get done(): bool { return this.state == STATE_DONE; }
  get failed(): bool { return this.state == STATE_ERROR; }
  /** Headers are complete and content is still arriving. */
  get inBody(): bool { return this.state >= STATE_BODY && this.state <= STATE_TRAILERS; }

  private fail(status: i32, reason: string): void {
    this.state = STATE_ERROR;
    this.status = status;
    this.reason = reason;
  }

  /** Consumes bytes at [ptr, ptr+len) up to the end of one request; returns how
   *  many. Stops early at STATE_DONE or STATE_ERROR. */
  feed(ptr: usize, len: i32): i32 {
    let i = 0;
    while (i < len && this.state < STATE_DONE) {
      const s = this.state;
      if (s == STATE_BODY || s == STATE_CHUNK_DATA) {
        let n = len - i;
        if (<i64>n > this.remaining) n = <i32>this.remaining;
        this.req.body.append(ptr + <usize>i, n);
        i += n;
        this.remaining -= n;
        if (this.remaining == 0) this.state = s == STATE_BODY ? STATE_DONE : STATE_CHUNK_END;
        continue;
      }
      // Line-oriented states: take bytes up to and including LF.
      const j = findByte(ptr, i, len, LF);
      const complete = j < len;
      const held = this.line.length;
      const total = held + (j - i);              // the line so far, without LF
      // Leading empty lines (a CRLF some clients add after a body) do not
      // count as the start of a request.
      if (!this.started && (this.state != STATE_REQUEST_LINE || total > 1 ||
          (total == 1 && (held > 0 ? this.line.at(0) : <u32>load<u8>(ptr + <usize>i)) != CR))) this.started = true;
      const limit = this.lineLimit();
      // +1 tolerates the CR that precedes LF. Checked before anything is
      // copied: an over-long line is refused without being held.
      if (total > limit + 1) {
        i = complete ? j + 1 : j;
        this.line.clear();
        this.lineTooLong();
        break;
      }
      if (!complete) {
        // Part of a line: kept until its LF arrives (at most limit + 1 bytes).
        this.line.append(ptr + <usize>i, j - i);
        i = j;
        break;
      }
      // A whole line: parsed where it lies unless part of it was held back.
      let lp = ptr + <usize>i;
      let n = j - i;
      i = j + 1;
      if (held > 0) {
        this.line.append(lp, n);
        lp = this.line.ptr;
        n = this.line.length;
      }
      if (n > 0 && <u32>load<u8>(lp + <usize>(n - 1)) == CR) n--;   // RFC 9112 §2.2: CRLF, or bare LF
      if (n > limit) { this.line.clear(); this.lineTooLong(); break; }
      const wasHeaders = this.state == STATE_HEADERS;
      this.onLine(lp, n);
      if (held > 0) this.line.clear();
      if (wasHeaders && this.state != STATE_HEADERS && this.state != STATE_ERROR) {
        this.headersDone = true;
        break;
      }
    }
    return i;
  }

  private lineLimit(): i32 {
    switch (this.state) {
      case STATE_REQUEST_LINE: return this.limits.maxRequestLine;
      case STATE_HEADERS: case STATE_TRAILERS: return this.limits.maxHeaderLine;
      case STATE_CHUNK_SIZE: return this.limits.maxChunkLine;
      default: return 0;   // STATE_CHUNK_END: only CRLF
    }
  }

  private lineTooLong(): void {
    switch (this.state) {
      case STATE_REQUEST_LINE: this.fail(414, "request line too long"); break;
      case STATE_HEADERS: case STATE_TRAILERS: this.fail(431, "header field too long"); break;
      case STATE_CHUNK_SIZE: this.fail(400, "chunk size line too long"); break;
      default: this.fail(400, "chunk data not followed by CRLF");
    }
  }

  private onLine(p: usize, n: i32): void {
    // A bare CR inside a line is invalid (RFC 9112 §2.2).
    if (findByte(p, 0, n, CR) < n) { this.fail(400, "bare CR"); return; }
    switch (this.state) {
      case STATE_REQUEST_LINE: {
        if (n == 0) {
          // RFC 9112 §2.2: ignore at least one empty line before a request-line.
          if (++this.emptyLines > this.limits.maxLeadingEmptyLines) this.fail(400, "too many empty lines");
          return;
        }
        this.requestLine(p, n);
        return;
      }
      case STATE_HEADERS: {
        if (n == 0) { this.headersComplete(); return; }
        this.fieldLine(p, n, true);
        return;
      }
      case STATE_CHUNK_SIZE: { this.chunkSize(p, n); return; }
      case STATE_CHUNK_END: {
        if (n != 0) { this.fail(400, "chunk data not followed by CRLF"); return; }
        this.state = STATE_CHUNK_SIZE;
        return;
      }
      case STATE_TRAILERS: {
        if (n == 0) { this.state = STATE_DONE; return; }
        this.fieldLine(p, n, false);   // validated and counted, then dropped (§7.1.2)
        return;
      }
    }
  }

  // request-line = method SP request-target SP HTTP-version  (RFC 9112 §3)
  private requestLine(p: usize, n: i32): void {
    let a = 0;
    while (a < n && isTchar(<u32>load<u8>(p + <usize>a))) a++;
    if (a == 0 || a >= n || <u32>load<u8>(p + <usize>a) != SP) { this.fail(400, "malformed request line"); return; }
    let b = a + 1;
    while (b < n) {
      const c = <u32>load<u8>(p + <usize>b);
      if (c == SP) break;
      // Visible ASCII only; a fragment is never part of a request-target.
      if (c <= 0x20 || c >= 0x7f || c == 0x23) { this.fail(400, "invalid character in request target"); return; }
      b++;
    }
    if (b == a + 1 || b >= n) { this.fail(400, "malformed request line"); return; }
    const vlen = n - b - 1;
    const v = p + <usize>(b + 1);
    if (vlen != 8 || load<u8>(v) != 0x48 || load<u8>(v, 1) != 0x54 || load<u8>(v, 2) != 0x54 ||
        load<u8>(v, 3) != 0x50 || load<u8>(v, 4) != 0x2f || load<u8>(v, 6) != 0x2e ||
        !isDigitByte(load<u8>(v, 5)) || !isDigitByte(load<u8>(v, 7))) {
      this.fail(400, "malformed HTTP version");
      return;
    }
    const req = this.req;
    req.method = methodName(p, a);
    req.target = latin1(p, a + 1, b);
    const major = <i32>load<u8>(v, 5) - 0x30;
    if (major != 1) { this.fail(505, "only HTTP/1.x is supported"); return; }
    // A later 1.x minor is answered as 1.1 (RFC 9110 §2.5).
    req.versionMinor = load<u8>(v, 7) == 0x30 ? 0 : 1;
    req.keepAlive = req.versionMinor == 1;
    if (!splitTarget(req)) { this.fail(400, "unsupported request target form"); return; }
    this.state = STATE_HEADERS;
  }

  // field-line = field-name ":" OWS field-value OWS  (RFC 9112 §5)
  private fieldLine(p: usize, n: i32, keep: bool): void {
    this.headerBytes += n + 2;
    this.headerCount++;
    if (this.headerBytes > this.limits.maxHeaderBytes) { this.fail(431, "header section too large"); return; }
    if (this.headerCount > this.limits.maxHeaders) { this.fail(431, "too many header fields"); return; }
    const c0 = <u32>load<u8>(p);
    if (c0 == SP || c0 == HTAB) { this.fail(400, "obsolete line folding"); return; }
    let a = 0;
    while (a < n && isTchar(<u32>load<u8>(p + <usize>a))) a++;
    // No whitespace is allowed between name and colon (§5.1: MUST reject).
    if (a == 0 || a >= n || <u32>load<u8>(p + <usize>a) != 0x3a) { this.fail(400, "malformed header field"); return; }
    let vs = a + 1;
    let ve = n;
    while (vs < ve && isOws(<u32>load<u8>(p + <usize>vs))) vs++;
    while (ve > vs && isOws(<u32>load<u8>(p + <usize>(ve - 1)))) ve--;
    for (let k = vs; k < ve; k++) {
      const c = <u32>load<u8>(p + <usize>k);
      // field-vchar = VCHAR / obs-text, with SP and HTAB between (RFC 9110 §5.5).
      if ((c < 0x20 && c != HTAB) || c == 0x7f) { this.fail(400, "invalid character in header value"); return; }
    }
    if (!keep) return;
    const name = headerName(p, a);
    const value = latin1(p, vs, ve);
    this.req.headers.push(new Header(name, value));
    if (name == "host") this.hostCount++;
    else if (name == "connection") this.sawConnection = true;
    else if (name == "expect") this.sawExpect = true;
    else if (name == "content-length") this.contentLength(value);
    else if (name == "transfer-encoding") {
      const t = this.te;
      this.te = t === null ? value : t + "," + value;
    }
  }

  // Content-Length = 1*DIGIT; a list of identical values may be accepted (RFC 9110 §8.6).
  private contentLength(value: string): void {
    const parts = value.split(",");
    for (let i = 0; i < parts.length; i++) {
      const t = unchecked(parts[i]).trim();
      if (t.length == 0) { this.clBad = true; return; }
      let v: i64 = 0;
      for (let k = 0; k < t.length; k++) {
        const c = t.charCodeAt(k);
        if (c < 0x30 || c > 0x39) { this.clBad = true; return; }
        // Saturate: anything past 2^53 is over every limit anyway.
        if (v < 9007199254740992) v = v * 10 + (c - 0x30);
      }
      if (this.clValue >= 0 && this.clValue != v) { this.clBad = true; return; }
      this.clValue = v;
    }
  }

  private headersComplete(): void {
    const req = this.req;
    if (req.versionMinor == 1 ? this.hostCount != 1 : this.hostCount > 1) {
      // RFC 9112 §3.2: exactly one Host in HTTP/1.1.
      this.fail(400, this.hostCount == 0 ? "missing Host header" : "more than one Host header");
      return;
    }
    if (this.clBad) { this.fail(400, "invalid Content-Length"); return; }
    // Connection options (RFC 9112 §9.3).
    const conn = this.sawConnection ? req.headerAll("connection") : null;
    if (conn !== null) {
      const opts = conn.toLowerCase().split(",");
      for (let i = 0; i < opts.length; i++) {
        const o = unchecked(opts[i]).trim();
        if (o == "close") req.keepAlive = false;
        else if (o == "keep-alive" && req.versionMinor == 0) req.keepAlive = true;
      }
      // "close" wins over anything else listed.
      for (let i = 0; i < opts.length; i++) if (unchecked(opts[i]).trim() == "close") req.keepAlive = false;
    }
    const expect = this.sawExpect ? req.headerAll("expect") : null;
    if (expect !== null) {
      // RFC 9110 §10.1.1: 100-continue is the only expectation; ignore it from 1.0 clients.
      if (expect.trim().toLowerCase() == "100-continue") req.expectContinue = req.versionMinor == 1;
      else { this.fail(417, "unsupported expectation"); return; }
    }
    const te = this.te;
    if (te !== null) {
      if (this.clValue >= 0) { this.fail(400, "both Transfer-Encoding and Content-Length"); return; }
      if (req.versionMinor == 0) { this.fail(400, "Transfer-Encoding in an HTTP/1.0 request"); return; }
      const codings = te.toLowerCase().split(",");
      let last = "";
      let count = 0;
      let chunkedSeen = 0;
      for (let i = 0; i < codings.length; i++) {
        const c = unchecked(codings[i]).trim();
        if (c.length == 0) continue;   // empty list elements are allowed (RFC 9110 §5.6.1)
        count++;
        last = c;
        if (c == "chunked") chunkedSeen++;
      }
      // §6.3 rule 4: chunked must be the final coding, or the length is unknowable.
      if (last != "chunked" || chunkedSeen != 1) { this.fail(400, "chunked must be the final transfer coding"); return; }
      if (count > 1) { this.fail(501, "transfer coding not implemented"); return; }
      req.chunked = true;
      this.state = STATE_CHUNK_SIZE;
      return;
    }
    if (this.clValue > <i64>this.limits.maxBody) { this.fail(413, "content too large"); return; }
    if (this.clValue < 0 && this.limits.requireLength) {
      const m = req.method;
      if (m == "POST" || m == "PUT" || m == "PATCH") { this.fail(411, "Content-Length required"); return; }
    }
    req.contentLength = this.clValue;
    if (this.clValue > 0) {
      this.remaining = this.clValue;
      this.state = STATE_BODY;
    } else {
      this.state = STATE_DONE;
    }
  }

  // chunk-size [ chunk-ext ] CRLF; chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] )  (§7.1)
  private chunkSize(p: usize, n: i32): void {
    let size: i64 = 0;
    let k = 0;
    while (k < n) {
      const h = hexByte(<u32>load<u8>(p + <usize>k));
      if (h < 0) break;
      if (size > <i64>this.limits.maxBody) { this.fail(413, "content too large"); return; }
      size = (size << 4) | h;
      k++;
    }
    if (k == 0) { this.fail(400, "malformed chunk size"); return; }
    while (k < n && isOws(<u32>load<u8>(p + <usize>k))) k++;
    if (k < n && <u32>load<u8>(p + <usize>k) != 0x3b) { this.fail(400, "malformed chunk size"); return; }
    // Extensions are ignored (§7.1.1).
    if (size == 0) { this.state = STATE_TRAILERS; return; }
    if (<i64>this.req.bodyLength + size > <i64>this.limits.maxBody) { this.fail(413, "content too large"); return; }
    this.remaining = size;
    this.state = STATE_CHUNK_DATA;
  }
}

function isDigitByte(c: u8): bool { return c >= 0x30 && c <= 0x39; }
function isOws(c: u32): bool { return c == SP || c == HTAB; }
function hexByte(c: u32): i64 {
  if (c >= 0x30 && c <= 0x39) return <i64>(c - 0x30);
  if (c >= 0x61 && c <= 0x66) return <i64>(c - 0x61 + 10);
  if (c >= 0x41 && c <= 0x46) return <i64>(c - 0x41 + 10);
  return -1;
}

/** Splits req.target into path and query (RFC 9112 §3.2): origin-form,
 *  absolute-form (the authority is dropped; Host is authoritative for us),
 *  asterisk-form for OPTIONS, authority-form for CONNECT. False otherwise. */
function splitTarget(req: Request): bool {
  let t = req.target;
  if (t == "*") {
    if (req.method != "OPTIONS") return false;
    req.path = "*";
    return true;
  }
  if (t.charCodeAt(0) != 0x2f) {
    const lower = t.toLowerCase();
    let rest = -1;
    if (lower.startsWith("http://")) rest = 7;
    else if (lower.startsWith("https://")) rest = 8;
    if (rest < 0) {
      if (req.method != "CONNECT") return false;
      req.path = "";   // authority-form: matches no route
      return true;
    }
    let slash = rest;
    while (slash < t.length && t.charCodeAt(slash) != 0x2f && t.charCodeAt(slash) != 0x3f) slash++;
    t = slash < t.length ? t.substring(slash) : "/";
    if (t.charCodeAt(0) == 0x3f) t = "/" + t;
  }
  const q = charIndex(t, 0x3f);
  if (q < 0) { req.path = t; req.query = ""; }
  else { req.path = t.substring(0, q); req.query = t.substring(q + 1); }
  return true;
}
