// cli/lib/hosted/protocol.ts — the pipe protocol between `skiff dev`'s
// supervisor (which owns the host's sockets and outlives every reload) and the
// child process running the app's Wasm. The child blocks in readSync while the
// kernel's loop halts, so every message from the supervisor answers a request:
// WAIT and POLL get the events queued since, LISTEN gets a status. Frames are
// [u32 length][u8 op][payload], little-endian.

/** Child → supervisor. */
export const OP_LISTEN = 1;      // u16 port → reply: u8 status (0 ok, 1 taken)
export const OP_UNLISTEN = 2;    // u16 port
export const OP_CONNECT = 3;     // u32 id, u32 addr, u16 port
export const OP_SEND = 4;        // u32 id, bytes
export const OP_CLOSE = 5;       // u32 id
export const OP_ABORT = 6;       // u32 id
export const OP_WAIT = 7;        // f64 timeout ms (< 0: none) → reply: events
export const OP_POLL = 8;        // → reply: events

/** Events in a WAIT/POLL reply: [u8 kind][u32 id][u32 a][u32 b][u32 c][u32 n][n bytes]. */
export const EV_ACCEPT = 1;      // a = guest port, b = remote IPv4, c = remote port
export const EV_DATA = 2;        // bytes
export const EV_EOF = 3;
export const EV_CONNECTED = 4;   // a = local port
export const EV_CLOSED = 5;      // a = TCP_ERR_* (0 orderly)
export const EV_WRITABLE = 6;    // a = bytes the socket took (flow control for OP_SEND)
export const EVENT_HEADER = 21;

/** kernel/lib/net/socket/tcp.ts error codes. */
export const TCP_ERR_REFUSED = 1;
export const TCP_ERR_RESET = 2;

export function frame(op: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(5 + payload.length);
  b.writeUInt32LE(1 + payload.length, 0);
  b[4] = op;
  b.set(payload, 5);
  return b;
}

export function event(kind: number, id: number, a = 0, b = 0, c = 0, data?: Uint8Array): Buffer {
  const n = data ? data.length : 0;
  const out = Buffer.alloc(EVENT_HEADER + n);
  out[0] = kind;
  out.writeUInt32LE(id >>> 0, 1);
  out.writeUInt32LE(a >>> 0, 5);
  out.writeUInt32LE(b >>> 0, 9);
  out.writeUInt32LE(c >>> 0, 13);
  out.writeUInt32LE(n, 17);
  if (data) out.set(data, EVENT_HEADER);
  return out;
}

export interface Event { kind: number; id: number; a: number; b: number; c: number; data: Buffer | null }

export function* events(buf: Buffer): Generator<Event> {
  let o = 0;
  while (o + EVENT_HEADER <= buf.length) {
    const n = buf.readUInt32LE(o + 17);
    yield {
      kind: buf[o], id: buf.readUInt32LE(o + 1), a: buf.readUInt32LE(o + 5), b: buf.readUInt32LE(o + 9),
      c: buf.readUInt32LE(o + 13), data: n > 0 ? buf.subarray(o + EVENT_HEADER, o + EVENT_HEADER + n) : null,
    };
    o += EVENT_HEADER + n;
  }
}

/** Splits a byte stream into frames (the supervisor's side). */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private onFrame: (op: number, payload: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32LE(0);
      if (this.buf.length < 4 + len) break;
      const f = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      this.onFrame(f[0], f.subarray(1));
    }
  }
}
