// kernel/lib/http/response.ts — what a handler fills in, and its serialization to
// HTTP/1.1 bytes (RFC 9112 §4 status line, §6 framing; RFC 9110 §6.6.1 Date,
// §8.3 Content-Type). The server owns framing: Content-Length or chunked,
// Connection, Date. Handler-set values are checked so no header can smuggle
// a CR or LF into the output.
import { ByteBuf } from "./buf";
import { Header, Request, equalsIgnoreCase } from "./request";
import { reasonPhrase, statusHasNoBody } from "./status";
import { isToken } from "./parser";
import { JsonWriter, JsonValue } from "../json";

// @ts-ignore: decorator
@lazy
export const MIME_JSON = "application/json";
// @ts-ignore: decorator
@lazy
export const MIME_TEXT = "text/plain; charset=utf-8";
// @ts-ignore: decorator
@lazy
export const MIME_OCTETS = "application/octet-stream";

/** Largest chunk written when a response is sent chunked. */
const CHUNK_MAX: i32 = 16384;

/** A response body produced in pieces while it is sent (e.g. read from disk),
 *  so a large body is never held whole: the connection asks for the next
 *  piece whenever its unsent output runs low. */
export abstract class BodySource {
  /** Bytes in all; sent as Content-Length. */
  abstract total(): i32;
  /** Writes the next 1..max bytes at dst and returns how many; 0 or less
   *  means the body cannot be finished (the connection is then closed, so
   *  the client sees a short body rather than a wrong one). */
  abstract read(dst: usize, max: i32): i32;
  /** read() only copies memory (no I/O per call): the transport may pull it
   *  straight into its send buffer in whatever room that has
   *  (HttpConnection.directBody). A source that reads a disk is better
   *  asked for 64 KiB at a time, into the output buffer: false. */
  inMemory(): bool { return false; }
}

/** A body already in memory (a file cache, an image's embedded bytes), sent
 *  as it is: the connection copies it once, straight into the socket's send
 *  buffer (HttpConnection.directBody), and nothing is copied when the
 *  response is made. keep holds the bytes' owner alive meanwhile (null for
 *  memory nobody frees). The bytes must not change while it is sent. */
export class BytesSource extends BodySource {
  private pos: i32 = 0;
  constructor(public ptr: usize, public len: i32, public keep: ArrayBuffer | null = null) { super(); }
  total(): i32 { return this.len; }
  inMemory(): bool { return true; }
  read(dst: usize, max: i32): i32 {
    let n = this.len - this.pos;
    if (n > max) n = max;
    if (n <= 0) return 0;
    memory.copy(dst, this.ptr + <usize>this.pos, <usize>n);
    this.pos += n;
    return n;
  }
}

/** A header made once and added to many responses with res.addLine():
 *  the name is checked and the value cleaned when it is made, and the line
 *  is kept as bytes, so adding it allocates nothing and writing it is one
 *  copy (a static file's ETag, a fixed Cache-Control). It is an ordinary
 *  Header in res.headers, and one object shared by every response it was
 *  added to: should its name or value be changed, it is written from them
 *  like any other header, in all of those responses (make a new one to
 *  change one response). */
export class HeaderLine extends Header {
  /** The name is a token: addLine() takes it (otherwise it is dropped, as addHeader would). */
  valid: bool;
  private madeName: string;
  private madeValue: string;

  constructor(name: string, value: string) {
    const v = sanitizeValue(value);
    super(name, v);
    this.madeName = name;
    this.madeValue = v;
    this.valid = isToken(name);
    // Framing headers (and Content-Type, which addLine sets as the type) are
    // never written from here: serializeResponse skips or writes them itself.
    if (this.valid && !isFramingHeader(name)) {
      const b = new ByteBuf(name.length + v.length + 4);
      b.appendHeaderLine(name, v);
      const w = new StaticArray<u8>(b.length);
      memory.copy(changetype<usize>(w), b.ptr, <usize>b.length);
      this.wire = w;
    }
  }

  /** The bytes, while name and value are still the ones they were made from. */
  @inline intact(): bool { return this.name === this.madeName && this.value === this.madeValue; }
}

export class Response {
  /** 0 until a handler sets it; a response left at 0 is answered with 500. */
  status: i32 = 0;
  headers: Header[] = new Array<Header>();   // room for 8: see Request.headers
  /** The response's own buffer, emptied once the response is queued: from
   *  4 KiB on its storage is pool pages, which then go back at once. */
  private bodyBuf: ByteBuf | null = null;

  /** The body; made at its first use (a file or an empty answer needs none). */
  get body(): ByteBuf {
    let b = this.bodyBuf;
    if (b === null) { b = new ByteBuf(128, 4096); this.bodyBuf = b; }
    return b;
  }
  /** Bytes of body written (0 without making the buffer). */
  get bodyLength(): i32 { const b = this.bodyBuf; return b === null ? 0 : b.length; }
  /** Empties the body, its pool pages back at once. */
  clearBody(): void { const b = this.bodyBuf; if (b !== null) b.clear(); }
  contentType: string | null = null;
  /** Send the body with Transfer-Encoding: chunked (HTTP/1.1 clients only). */
  chunked: bool = false;
  /** Close the connection after this response. */
  close: bool = false;
  /** Headers refused because the name was not a token. */
  droppedHeaders: i32 = 0;
  /** When set, the body comes from here instead of body (see stream()). */
  source: BodySource | null = null;

  /** Back to a new Response's state (the server reuses one for admit()). */
  reset(): void {
    this.status = 0;
    this.headers.length = 0;
    this.clearBody();
    this.contentType = null;
    this.chunked = false;
    this.close = false;
    this.droppedHeaders = 0;
    this.source = null;
  }

  /** Sends status with a body read from src as it goes out (Content-Length
   *  framing, never chunked). */
  stream(status: i32, contentType: string, src: BodySource): void {
    this.status = status;
    this.contentType = contentType;
    this.clearBody();
    this.source = src;
  }

  /** Sends status with len bytes at ptr as the body, without copying them
   *  here (BytesSource; keep: their owner, held until they are sent). */
  sendBytes(status: i32, contentType: string, ptr: usize, len: i32, keep: ArrayBuffer | null = null): void {
    this.stream(status, contentType, new BytesSource(ptr, len, keep));
  }

  /** Sets a header, replacing any of the same name (case-insensitive). */
  setHeader(name: string, value: string): void {
    for (let i = 0; i < this.headers.length; i++) {
      if (equalsIgnoreCase(unchecked(this.headers[i]).name, name)) { this.headers.splice(i, 1); i--; }
    }
    this.addHeader(name, value);
  }

  /** Adds a header line. A name that is not a token is dropped; CR, LF, NUL
   *  and other controls in the value become spaces (RFC 9110 §5.5). */
  addHeader(name: string, value: string): void {
    if (!isToken(name)) { this.droppedHeaders++; return; }
    if (equalsIgnoreCase(name, "content-type")) { this.contentType = sanitizeValue(value); return; }
    this.headers.push(new Header(name, sanitizeValue(value)));
  }

  /** Adds a HeaderLine: checked and serialized when it was made, so this
   *  allocates nothing (a Content-Type line sets contentType). */
  addLine(line: HeaderLine): void {
    if (!line.valid) { this.droppedHeaders++; return; }
    if (equalsIgnoreCase(line.name, "content-type")) { this.contentType = line.value; return; }
    this.headers.push(line);
  }

  header(name: string): string | null {
    for (let i = 0; i < this.headers.length; i++) {
      const h = unchecked(this.headers[i]);
      if (equalsIgnoreCase(h.name, name)) return h.value;
    }
    return null;
  }

  write(ptr: usize, len: i32): void { this.body.append(ptr, len); }
  writeBytes(a: Uint8Array): void { this.body.appendBytes(a); }
  writeString(s: string): void { this.body.appendUtf8(s); }

  /** Replaces the body with text (UTF-8) and sets status and type. */
  send(status: i32, contentType: string, text: string): void {
    this.status = status;
    this.contentType = contentType;
    this.clearBody();
    this.body.appendUtf8(text);
  }

  /** A JSON response: body is JSON text (a string), a JsonWriter or a
   *  JsonValue (e.g. `res.json(200, new JsonWriter().beginObject()
   *  .propInt("hits", hits).endObject())`). */
  json<T>(status: i32, body: T): void {
    if (isString<T>()) this.send(status, MIME_JSON, changetype<string>(body));
    else if (body instanceof JsonWriter) this.send(status, MIME_JSON, changetype<JsonWriter>(body).toString());
    else if (body instanceof JsonValue) this.send(status, MIME_JSON, changetype<JsonValue>(body).toJson());
    else ERROR("res.json(status, body): body is JSON text (string), a JsonWriter or a JsonValue");
  }
  text(status: i32, text: string): void { this.send(status, MIME_TEXT, text); }

  /** A JSON error body {"code": status, "message": message} (OSv's shape). */
  error(status: i32, message: string): void {
    this.json(status, errorJson(status, message));
  }

  /** Status with no content (e.g. 204). */
  empty(status: i32): void {
    this.status = status;
    this.contentType = null;
    this.clearBody();
  }
}

export function errorJson(status: i32, message: string): string {
  return new JsonWriter().beginObject().propInt("code", status).propString("message", message).endObject().toString();
}

function sanitizeValue(v: string): string {
  let bad = false;
  const p = changetype<usize>(v);
  const len = v.length;
  for (let i = 0; i < len; i++) {
    const c = <u32>load<u16>(p + (<usize>i << 1));
    if (c - 0x20 < 0x5f) continue;                     // printable ASCII: one test
    if ((c < 0x20 && c != 0x09) || c == 0x7f || c > 0xff) { bad = true; break; }
  }
  if (!bad) {
    // Nothing to trim (the usual case): v itself, without trim()'s scan.
    const n = v.length;
    if (n == 0) return v;
    const first = <u32>load<u16>(p), last = <u32>load<u16>(p + (<usize>(n - 1) << 1));
    if (first > 0x20 && first != 0xa0 && last > 0x20 && last != 0xa0) return v;   // trim() also takes NBSP
    return v.trim();
  }
  const parts = new Array<string>(v.length);
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    // Above 0xff cannot go on the wire as one octet: "?" rather than a guess.
    unchecked(parts[i] = (c < 0x20 && c != 0x09) || c == 0x7f ? " " : c > 0xff ? "?" : String.fromCharCode(c));
  }
  return parts.join("").trim();
}

/** Headers the server writes itself; a handler's copies are ignored. */
function isFramingHeader(name: string): bool {
  // Each starts with c, t, d or k: most names are told apart by that alone.
  if (name.length == 0) return false;
  const c0 = <u32>load<u16>(changetype<usize>(name)) | 0x20;
  if (c0 != 0x63 && c0 != 0x74 && c0 != 0x64 && c0 != 0x6b) return false;
  return equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "transfer-encoding") ||
    equalsIgnoreCase(name, "connection") || equalsIgnoreCase(name, "date") ||
    equalsIgnoreCase(name, "content-type") || equalsIgnoreCase(name, "keep-alive");
}

/** Writes res to out. head: omit the content (HEAD, §9.3.2) but keep its
 *  length; versionMinor: the request's, which decides chunked and keep-alive
 *  signalling; date: IMF-fixdate or null. */
export function serializeResponse(res: Response, head: bool, versionMinor: i32, keepAlive: bool,
                                  date: string | null, serverName: string, out: ByteBuf): void {
  const status = res.status;
  out.appendLatin1("HTTP/1.1 ");
  out.appendDecimal(<u64>status);
  out.appendByte(0x20);
  out.appendLatin1(reasonPhrase(status));
  out.appendLatin1("\r\n");
  appendDateServer(out, date, serverName);
  for (let i = 0; i < res.headers.length; i++) {
    const h = unchecked(res.headers[i]);
    const w = h.wire;
    if (w !== null && changetype<HeaderLine>(h).intact()) { out.append(changetype<usize>(w), w.length); continue; }
    if (isFramingHeader(h.name)) continue;
    header(out, h.name, h.value);
  }
  const noBody = statusHasNoBody(status);
  const ct = res.contentType;
  const src = res.source;
  const length = src !== null ? src.total() : res.bodyLength;
  if (!noBody && (ct !== null || length > 0)) header(out, "Content-Type", ct !== null ? ct : MIME_OCTETS);
  // Chunked only to HTTP/1.1 clients (RFC 9112 §6.1); HEAD still advertises it.
  const chunked = res.chunked && versionMinor == 1 && !noBody && src === null;
  if (!noBody) {
    if (chunked) header(out, "Transfer-Encoding", "chunked");
    else {
      out.appendLatin1("Content-Length: ");
      out.appendDecimal(<u64>length);
      out.appendLatin1("\r\n");
    }
  }
  if (!keepAlive) header(out, "Connection", "close");
  else if (versionMinor == 0) header(out, "Connection", "keep-alive");
  out.appendLatin1("\r\n");
  if (head || noBody || src !== null) return;   // a source's body follows from the connection
  if (!chunked) { if (length > 0) out.appendBuf(res.body); return; }
  // chunked-body = *chunk last-chunk trailer-section CRLF  (RFC 9112 §7.1)
  const p = res.body.ptr;
  const n = res.body.length;
  for (let off = 0; off < n; off += CHUNK_MAX) {
    const len = n - off < CHUNK_MAX ? n - off : CHUNK_MAX;
    out.appendLatin1(len.toString(16));
    out.appendLatin1("\r\n");
    out.append(p + <usize>off, len);
    out.appendLatin1("\r\n");
  }
  out.appendLatin1("0\r\n\r\n");
}

/** The Date and Server lines as bytes, for the date string and server name
 *  they were made from (the server keeps one Date string per second): most
 *  responses copy them in one piece. */
// @ts-ignore: decorator
@lazy let dsDate: string | null = null;
// @ts-ignore: decorator
@lazy let dsServer: string = "";
// @ts-ignore: decorator
@lazy let dsBytes: ByteBuf | null = null;

function appendDateServer(out: ByteBuf, date: string | null, serverName: string): void {
  let b = dsBytes;
  if (b === null || date !== dsDate || serverName !== dsServer) {
    if (b === null) { b = new ByteBuf(96); dsBytes = b; }
    b.clear();
    if (date !== null) header(b, "Date", date);
    if (serverName.length > 0) header(b, "Server", serverName);
    dsDate = date;
    dsServer = serverName;
  }
  if (b.length > 0) out.append(b.ptr, b.length);
}

function header(out: ByteBuf, name: string, value: string): void {
  out.appendHeaderLine(name, value);
}

/** Handlers are objects (no closures in AssemblyScript): the router or the
 *  server calls handle() once per request; it fills res before returning. */
export abstract class Handler {
  abstract handle(req: Request, res: Response): void;
  /** Called once the header section has arrived, before any content is read
   *  or 100 Continue is sent: false refuses the request with what was put in
   *  res (e.g. 401), and the connection closes without reading the body. */
  admit(req: Request, res: Response): bool { return true; }
}
