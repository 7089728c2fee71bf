// kernel/lib/http/request.ts — one parsed HTTP/1.1 request (RFC 9112 §2-§7) as the
// parser fills it and handlers read it, plus the Handler interface. Header
// names are stored lowercased; values are Latin-1 (obs-text kept byte for byte).
import { ByteBuf } from "./buf";
import { JsonValue, parseJsonBytes, DEFAULT_MAX_DEPTH, utf8SequenceAt } from "../json";

export class Header {
  /** A HeaderLine's bytes (response.ts); null for a plain header. */
  wire: StaticArray<u8> | null = null;
  constructor(public name: string, public value: string) {}
}

/** a and b are equal ignoring ASCII case (field names are tokens: ASCII). */
export function equalsIgnoreCase(a: string, b: string): bool {
  const n = a.length;
  if (b.length != n) return false;
  const pa = changetype<usize>(a), pb = changetype<usize>(b);
  for (let i = 0; i < n; i++) {
    let x = <u32>load<u16>(pa + (<usize>i << 1)), y = <u32>load<u16>(pb + (<usize>i << 1));
    if (x == y) continue;
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x != y) return false;
  }
  return true;
}

/** Index of the first UTF-16 unit c in s at or after from, or -1: a plain
 *  scan (String#indexOf compares a whole needle at every position). */
export function charIndex(s: string, c: u32, from: i32 = 0): i32 {
  const p = changetype<usize>(s);
  const n = s.length;
  for (let i = from; i < n; i++) if (<u32>load<u16>(p + (<usize>i << 1)) == c) return i;
  return -1;
}

/** s lowercased; s itself (no copy) when it has no capital letter, as the
 *  names handlers ask for usually are. */
function lowered(s: string): string {
  const p = changetype<usize>(s);
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = <u32>load<u16>(p + (<usize>i << 1));
    if (c - 0x41 < 26 || c > 0x7f) return s.toLowerCase();
  }
  return s;
}

export class Request {
  method: string = "";
  /** The request-target as sent (RFC 9112 §3.2). */
  target: string = "";
  /** The path part of the target, still percent-encoded ("*" for asterisk-form). */
  path: string = "/";
  /** The query without "?", still encoded; "" when absent. */
  query: string = "";
  /** HTTP/1.x minor version: 0 or 1. */
  versionMinor: i32 = 1;
  /** `new Array` has room for 8 from the start; a `[]` literal's storage is
   *  empty, and the first push would allocate it a second time. */
  headers: Header[] = new Array<Header>();
  /** The content; made at its first use (most requests have none). */
  private bodyBuf: ByteBuf | null = null;
  /** The content received (the parser appends to it). */
  get body(): ByteBuf {
    let b = this.bodyBuf;
    if (b === null) { b = new ByteBuf(64); this.bodyBuf = b; }
    return b;
  }
  /** Bytes of content received so far (0 without making the buffer). */
  get bodyLength(): i32 { const b = this.bodyBuf; return b === null ? 0 : b.length; }
  /** Empties the content, its pool pages back at once. */
  clearBody(): void { const b = this.bodyBuf; if (b !== null) b.clear(); }

  /** Content-Length as sent, or -1. */
  contentLength: i64 = -1;
  chunked: bool = false;
  keepAlive: bool = true;
  expectContinue: bool = false;
  /** Monotonic time the request completed, as passed to the server. */
  nowNs: u64 = 0;
  /** The client's IPv4 address as the transport knows it; 0 when unknown. */
  peer: u32 = 0;
  /** The bearer token was checked and accepted (Router.admit), so routing
   *  need not check it again. */
  authorized: bool = false;
  /** The route pattern that matched ("" before routing or when none did). */
  route: string = "";
  /** Path parameters, set by the router (bindParams); null while there are
   *  none, so a request without them allocates no arrays. */
  private pNames: string[] | null = null;
  private pValues: string[] | null = null;

  /** Names of the path parameters the router bound (read them with param()). */
  get paramNames(): string[] {
    let a = this.pNames;
    if (a === null) { a = []; this.pNames = a; }
    return a;
  }
  /** Their values, decoded, in the same order as paramNames. */
  get paramValues(): string[] {
    let a = this.pValues;
    if (a === null) { a = []; this.pValues = a; }
    return a;
  }

  /** Binds path parameters (the router): names is the route's own list,
   *  shared, never changed here; a second router further down appends. */
  bindParams(names: string[], values: string[]): void {
    const n0 = this.pNames, v0 = this.pValues;
    if (n0 === null || v0 === null || n0.length == 0) { this.pNames = names; this.pValues = values; return; }
    this.pNames = n0.concat(names);
    this.pValues = v0.concat(values);
  }

  /** The first header named name (any case), or null. Repeated fields can be
   *  read with headerAll. */
  header(name: string): string | null {
    const n = lowered(name);
    for (let i = 0; i < this.headers.length; i++) {
      const h = unchecked(this.headers[i]);
      if (h.name == n) return h.value;
    }
    return null;
  }

  /** Every value of header name joined by ", " (RFC 9110 §5.3), or null. */
  headerAll(name: string): string | null {
    const n = lowered(name);
    let out: string | null = null;
    for (let i = 0; i < this.headers.length; i++) {
      const h = unchecked(this.headers[i]);
      if (h.name != n) continue;
      out = out === null ? h.value : out + ", " + h.value;
    }
    return out;
  }

  /** A path parameter bound by the router ({name} in the pattern), decoded. */
  param(name: string): string | null {
    const names = this.pNames, values = this.pValues;
    if (names === null || values === null) return null;
    const n = min(names.length, values.length);
    for (let i = 0; i < n; i++) {
      if (unchecked(names[i]) == name) return unchecked(values[i]);
    }
    return null;
  }

  /** The first query parameter called name, form-decoded ("+" is a space), or null. */
  queryParam(name: string): string | null {
    const q = this.query;
    if (q.length == 0) return null;
    const parts = q.split("&");
    for (let i = 0; i < parts.length; i++) {
      const p = unchecked(parts[i]);
      const eq = p.indexOf("=");
      const k = eq < 0 ? p : p.substring(0, eq);
      const dk = percentDecode(k, true);
      if (dk === null || dk != name) continue;
      if (eq < 0) return "";
      return percentDecode(p.substring(eq + 1), true);
    }
    return null;
  }

  /** The media type of Content-Type, lowercased, without parameters ("" if absent). */
  mediaType(): string {
    const ct = this.header("content-type");
    if (ct === null) return "";
    const semi = ct.indexOf(";");
    return (semi < 0 ? ct : ct.substring(0, semi)).trim().toLowerCase();
  }

  bodyText(): string { return this.body.toUtf8String(); }

  /** The body parsed as JSON, or null when it is not valid JSON (the same as bodyJson). */
  json(): JsonValue | null { return this.bodyJson(); }

  /** The body parsed as JSON, or null when it is not valid JSON. */
  bodyJson(maxDepth: i32 = DEFAULT_MAX_DEPTH): JsonValue | null {
    const b = this.body;
    return parseJsonBytes(b.ptr, b.length, maxDepth, b.length);
  }

  get isHead(): bool { return this.method == "HEAD"; }
}

function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Decodes %XX escapes (and "+" as space when form is true); the bytes are
 *  read as UTF-8 with invalid sequences becoming U+FFFD. Returns null for a
 *  malformed escape. */
export function percentDecode(s: string, form: bool = false): string | null {
  if (s.indexOf("%") < 0 && (!form || s.indexOf("+") < 0)) return s;
  const n = s.length;
  const buf = new ByteBuf(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x25) {
      if (i + 2 >= n) return null;
      const h = hexDigit(s.charCodeAt(i + 1));
      const l = hexDigit(s.charCodeAt(i + 2));
      if (h < 0 || l < 0) return null;
      buf.appendByte(<u32>((h << 4) | l));
      i += 2;
    } else if (form && c == 0x2b) {
      buf.appendByte(0x20);
    } else if (c < 0x80) {
      buf.appendByte(<u32>c);
    } else {
      buf.appendUtf8(String.fromCharCode(c));
    }
  }
  return decodeUtf8Lossy(buf.ptr, buf.length);
}

/** UTF-8 to a string; any invalid sequence becomes U+FFFD (asc's own decoder
 *  would silently mis-decode overlongs and surrogates). */
export function decodeUtf8Lossy(ptr: usize, len: i32): string {
  const parts = new Array<string>();
  let i = 0;
  let run = 0;
  while (i < len) {
    const n = utf8SequenceAt(ptr, i, len);
    if (n > 0) { i += n; continue; }
    if (i > run) parts.push(String.UTF8.decodeUnsafe(ptr + <usize>run, <usize>(i - run)));
    parts.push("\uFFFD");
    i++;
    run = i;
  }
  if (run == 0) return String.UTF8.decodeUnsafe(ptr, <usize>len);
  if (run < len) parts.push(String.UTF8.decodeUnsafe(ptr + <usize>run, <usize>(len - run)));
  return parts.join("");
}
