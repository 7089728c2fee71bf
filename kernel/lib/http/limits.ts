// kernel/lib/http/limits.ts — the bounds a server puts on what one client may send
// and hold, with the status each one produces (RFC 9112 §3, §5, §6; RFC 9110
// §15.5; RFC 6585 §5 for 431).

export class HttpLimits {
  /** Request line, bytes without CRLF; longer → 414 (RFC 9112 §3 suggests ≥ 8000). */
  maxRequestLine: i32 = 8192;
  /** One header field line; longer → 431. */
  maxHeaderLine: i32 = 8192;
  /** All header (and trailer) lines of one request together; more → 431. */
  maxHeaderBytes: i32 = 16384;
  /** Header fields per request; more → 431. */
  maxHeaders: i32 = 64;
  /** Request content after de-chunking; more → 413. */
  maxBody: i32 = 1 << 20;
  /** A chunk-size line with its extensions; longer → 400. */
  maxChunkLine: i32 = 256;
  /** Empty lines tolerated before a request line (RFC 9112 §2.2); more → 400. */
  maxLeadingEmptyLines: i32 = 8;
  /** When true, POST/PUT/PATCH without Content-Length or chunked → 411. */
  requireLength: bool = false;
  /** A connection with no traffic for this long is closed: silently between
   *  requests, with 408 when a request was under way. */
  idleTimeoutNs: u64 = 30_000_000_000;
  /** From a request's first byte to the end of its header section: a client
   *  that trickles a header line every few seconds (slowloris) gets 408
   *  after this, however fresh it keeps the idle timer (Node's headersTimeout,
   *  nginx's client_header_timeout). */
  headerTimeoutNs: u64 = 30_000_000_000;
  /** From a request's first byte to its last: a slow sender that keeps the
   *  idle timer fresh still gets 408 after this. */
  requestTimeoutNs: u64 = 60_000_000_000;
  /** Under pressure (the connection table more than pressurePercent full)
   *  the idle and header timeouts shrink to these. */
  pressurePercent: i32 = 75;
  pressureIdleTimeoutNs: u64 = 5_000_000_000;
  pressureHeaderTimeoutNs: u64 = 5_000_000_000;
  /** A connection still in its header section (or silent since it opened)
   *  may be evicted for a newcomer once it is this old; younger ones are
   *  spared, so a burst of real clients does not knock itself out. */
  evictGraceNs: u64 = 1_000_000_000;
  /** Unparsed input held per connection; feed() accepts no more (TCP's window
   *  then pushes back on the client). */
  maxPendingInput: i32 = 65536;
  /** Unsent output per connection above which pipelined requests wait. */
  maxPendingOutput: i32 = 262144;
}
