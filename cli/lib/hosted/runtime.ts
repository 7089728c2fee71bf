// cli/lib/hosted/runtime.ts — the child process of `skiff dev`: instantiates
// the app's hosted Wasm against the host interface implemented in TypeScript
// (test/platform/host.ts, the unit tests' FakeHost) set up as a plain machine:
// COM1 goes to stdout, the TSC is the real monotonic clock at 1 GHz (CPUID
// 0x15), the LAPIC runs in TSC-deadline mode, RDRAND gives random bytes, the
// boot information is a PVH start_info with the command line and a memory
// map. The kernel's event loop is the real one: when it halts (irq_wait), the
// child asks the supervisor for events with the armed deadline as timeout and
// blocks in readSync until they come. The "hosted" imports
// (kernel/platform/hosted.ts) map the kernel's TCP layer to the supervisor's
// sockets (protocol.ts).
import { bootRecord } from "./bootrecord.js";
import { readFileSync, readSync, writeSync } from "node:fs";
import inspector from "node:inspector";
import { FakeHost, GuestExitError, PortDevice } from "../../../test/platform/host.js";
import {
  frame, events, OP_LISTEN, OP_UNLISTEN, OP_CONNECT, OP_SEND, OP_CLOSE, OP_ABORT, OP_WAIT, OP_POLL,
  EV_ACCEPT, EV_DATA, EV_EOF, EV_CONNECTED, EV_CLOSED, EV_WRITABLE,
} from "./protocol.js";

const IN_FD = 3;     // replies from the supervisor
const OUT_FD = 4;    // requests to it

const TIMER_VECTOR = 0xf0;          // kernel/core/irq TIMER_VECTOR
const MSR_TSC_DEADLINE = 0x6e0;
const POLL_EVERY_NS = 2_000_000n;   // a loop that never halts still sees the network this often

/** kernel/platform/hosted.ts event kinds. */
const K_ACCEPT = 1, K_READABLE = 2, K_WRITABLE = 3, K_CONNECTED = 4, K_CLOSED = 5;

/** COM1 to stdout, line by line. */
class StdoutUart implements PortDevice {
  private line: number[] = [];
  private lcr = 0;
  constructor(private base = 0x3f8) {}
  read(port: number): number {
    const reg = port - this.base;
    if (reg === 5) return 0x60;                                 // THR empty, transmitter idle
    if (reg === 3) return this.lcr;
    if (reg === 2) return 0xc1;
    return 0;
  }
  write(port: number, _w: number, value: number): void {
    const reg = port - this.base;
    if (reg === 3) this.lcr = value;
    else if (reg === 0 && !(this.lcr & 0x80)) {
      this.line.push(value & 0xff);
      if (value === 10 || this.line.length >= 4096) this.flush();
    }
  }
  flush(): void {
    if (this.line.length === 0) return;
    const b = Buffer.from(this.line);
    this.line = [];
    let o = 0;
    while (o < b.length) {
      try { o += writeSync(1, b, o); } catch (e) { if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e; }
    }
  }
}

/** Bytes a connection may have on their way to the host's socket before
 *  net_send takes no more (the app then waits for writable()). */
const SEND_WINDOW = 1 << 20;

interface Conn { chunks: Buffer[]; bytes: number; eof: boolean; inFlight: number; blocked: boolean }

export interface RuntimeOptions {
  wasm: string;
  cmdline: string;
  memoryBytes: number;
}

/** The boot record (boot/bootrecord.h) the loader would hand over after a
 *  PVH boot: the command line and a memory map of this much RAM. */
function pvhBootInfo(host: FakeHost, cmdline: string, ram: number): void {
  const RECORD = 0x6000n;
  host.addPhys(RECORD, bootRecord(cmdline.slice(0, 4000), [
    { base: 0n, length: 0x9fc00n }, { base: 0x100000n, length: BigInt(ram) - 0x100000n },
  ]));
  host.bootProtocol = 1;
  host.bootRecord = RECORD;
}

export class HostedRuntime {
  host: FakeHost;
  uart = new StdoutUart();
  private conns = new Map<number, Conn>();
  private queue: number[][] = [];
  private readablePending = new Set<number>();
  private nextConnect = 1;
  private lastExchange = 0n;
  private readonly t0 = process.hrtime.bigint();
  memory!: WebAssembly.Memory;

  constructor(private opts: RuntimeOptions) {
    const host = new FakeHost({ linearBase: 0x1000000n });
    for (let p = 0; p < 8; p++) host.ports.set(0x3f8 + p, this.uart);
    host.cpuidTable.set("0", [0x16, 0x756e6547, 0x6c65746e, 0x49656e69]);   // "GenuineIntel"
    host.cpuidTable.set("1", [0, 0, (1 << 24) | (1 << 30), 1 << 9]);         // TSC-deadline, RDRAND; APIC
    host.cpuidTable.set("21", [1, 1, 1_000_000_000, 0]);                      // leaf 0x15: the TSC runs at 1 GHz
    host.msrs.set(0x1b, 0xfee00000n | (1n << 8n));                            // APIC base, BSP
    pvhBootInfo(host, opts.cmdline, opts.memoryBytes);
    this.host = host;
  }

  private now(): bigint { return process.hrtime.bigint() - this.t0; }

  // ---- pipe ------------------------------------------------------------------

  private send(op: number, payload?: Uint8Array): void {
    const f = frame(op, payload);
    let o = 0;
    while (o < f.length) {
      try { o += writeSync(OUT_FD, f, o); } catch (e) { if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e; }
    }
  }

  private readExactly(n: number): Buffer {
    const b = Buffer.alloc(n);
    let o = 0;
    while (o < n) {
      let got: number;
      try { got = readSync(IN_FD, b, o, n - o, null); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") continue;
        throw e;
      }
      if (got === 0) process.exit(0);          // the supervisor is gone
      o += got;
    }
    return b;
  }

  private reply(): Buffer {
    const len = this.readExactly(4).readUInt32LE(0);
    return len > 0 ? this.readExactly(len) : Buffer.alloc(0);
  }

  private request(op: number, payload?: Uint8Array): Buffer {
    this.send(op, payload);
    const r = this.reply();
    this.lastExchange = this.now();
    return r;
  }

  private take(reply: Buffer): void {
    for (const e of events(reply)) {
      switch (e.kind) {
        case EV_ACCEPT:
          this.conns.set(e.id, { chunks: [], bytes: 0, eof: false, inFlight: 0, blocked: false });
          this.queue.push([K_ACCEPT, e.id, e.a, e.b, e.c]);
          break;
        case EV_DATA: case EV_EOF: {
          const c = this.conns.get(e.id);
          if (!c) break;
          if (e.kind === EV_DATA && e.data) { c.chunks.push(Buffer.from(e.data)); c.bytes += e.data.length; }
          else c.eof = true;
          if (!this.readablePending.has(e.id)) { this.readablePending.add(e.id); this.queue.push([K_READABLE, e.id, 0, 0, 0]); }
          break;
        }
        case EV_CONNECTED:
          this.conns.set(e.id, { chunks: [], bytes: 0, eof: false, inFlight: 0, blocked: false });
          this.queue.push([K_CONNECTED, e.id, e.a, 0, 0]);
          break;
        case EV_WRITABLE: {             // a = bytes the host's socket has taken
          const c = this.conns.get(e.id);
          if (!c) break;
          c.inFlight = Math.max(0, c.inFlight - e.a);
          if (c.blocked && c.inFlight < SEND_WINDOW / 2) { c.blocked = false; this.queue.push([K_WRITABLE, e.id, 0, 0, 0]); }
          break;
        }
        case EV_CLOSED: this.queue.push([K_CLOSED, e.id, e.a, 0, 0]); break;
      }
    }
  }

  // ---- imports ---------------------------------------------------------------

  private deadline(): bigint { return this.host.msrs.get(MSR_TSC_DEADLINE) ?? 0n; }

  private wait(): void {
    if (this.queue.length > 0) return;
    const dl = this.deadline();
    const now = this.now();
    if (dl !== 0n && dl <= now) return;
    this.uart.flush();
    const ms = dl === 0n ? -1 : Number(dl - now) / 1e6;
    const p = Buffer.alloc(8);
    p.writeDoubleLE(ms, 0);
    this.take(this.request(OP_WAIT, p));
  }

  hostedImports(): Record<string, WebAssembly.ImportValue> {
    const mem = () => new Uint8Array(this.memory.buffer);
    return {
      net_listen: (port: number) => {
        const p = Buffer.alloc(2);
        p.writeUInt16LE(port & 0xffff, 0);
        const r = this.request(OP_LISTEN, p);
        return r.length > 0 ? r[0] : 1;
      },
      net_unlisten: (port: number) => {
        const p = Buffer.alloc(2);
        p.writeUInt16LE(port & 0xffff, 0);
        this.send(OP_UNLISTEN, p);
      },
      net_connect: (addr: number, port: number) => {
        const id = (0x80000000 | this.nextConnect++) >>> 0;
        const p = Buffer.alloc(10);
        p.writeUInt32LE(id, 0); p.writeUInt32LE(addr >>> 0, 4); p.writeUInt16LE(port & 0xffff, 8);
        this.send(OP_CONNECT, p);
        return id | 0;
      },
      net_send: (id: number, src: number, len: number) => {
        id >>>= 0;
        const c = this.conns.get(id);
        if (!c) return -1;
        const room = SEND_WINDOW - c.inFlight;
        if (len === 0) return Math.max(0, room);
        if (room <= 0) { c.blocked = true; return 0; }
        if (len > room) len = room;
        c.inFlight += len;
        const p = Buffer.alloc(4 + len);
        p.writeUInt32LE(id, 0);
        p.set(mem().subarray(src, src + len), 4);
        this.send(OP_SEND, p);
        return len;
      },
      net_recv: (id: number, dst: number, max: number) => {
        const c = this.conns.get(id >>> 0);
        if (!c) return -1;
        if (max === 0) return c.bytes > 0 ? c.bytes : c.eof ? -1 : 0;
        if (c.bytes === 0) {
          this.readablePending.delete(id >>> 0);
          return c.eof ? -1 : 0;
        }
        const m = mem();
        let n = 0;
        while (n < max && c.chunks.length > 0) {
          const ch = c.chunks[0];
          const k = Math.min(ch.length, max - n);
          m.set(ch.subarray(0, k), dst + n);
          n += k;
          if (k === ch.length) c.chunks.shift(); else c.chunks[0] = ch.subarray(k);
        }
        c.bytes -= n;
        if (c.bytes === 0) this.readablePending.delete(id >>> 0);
        return n;
      },
      net_close: (id: number) => {
        const p = Buffer.alloc(4);
        p.writeUInt32LE(id >>> 0, 0);
        this.send(OP_CLOSE, p);
      },
      net_abort: (id: number) => {
        const p = Buffer.alloc(4);
        p.writeUInt32LE(id >>> 0, 0);
        this.conns.delete(id >>> 0);
        this.send(OP_ABORT, p);
      },
      net_event: (out: number) => {
        if (this.queue.length === 0 && this.now() - this.lastExchange >= POLL_EVERY_NS) this.take(this.request(OP_POLL));
        const e = this.queue.shift();
        if (!e) return 0;
        if (e[0] === K_READABLE) this.readablePending.delete(e[1]);
        if (e[0] === K_CLOSED) { this.conns.delete(e[1]); this.readablePending.delete(e[1]); }
        const dv = new DataView(this.memory.buffer);
        for (let i = 0; i < 5; i++) dv.setUint32(out + 4 * i, e[i] >>> 0, true);
        return 1;
      },
    };
  }

  imports(): WebAssembly.Imports {
    const host = this.host.imports();
    host.rdtsc = () => BigInt.asIntN(64, this.now());
    host.entry_tsc = () => 0n;
    host.irq_wait = () => this.wait();
    host.irq_take = (out: number) => {
      const b = new Uint8Array(this.memory.buffer);
      b.fill(0, out, out + 32);
      const dl = this.deadline();
      if (dl !== 0n && dl <= this.now()) {
        this.host.msrs.set(MSR_TSC_DEADLINE, 0n);            // one-shot, as the hardware does
        b[out + (TIMER_VECTOR >> 3)] |= 1 << (TIMER_VECTOR & 7);
        return 1;
      }
      return 0;
    };
    return {
      host,
      hosted: this.hostedImports(),
      env: { seed: () => Date.now(), trace: () => {} },
    };
  }

  /** Runs the guest to its end; returns its exit status. */
  async run(): Promise<number> {
    const mod = await WebAssembly.compile(readFileSync(this.opts.wasm));
    const imports = this.imports();
    // Anything else the module imports (asc's env helpers) gets a no-op.
    for (const i of WebAssembly.Module.imports(mod)) {
      const ns = (imports[i.module] ??= {}) as Record<string, WebAssembly.ImportValue>;
      if (!(i.name in ns) && i.kind === "function") ns[i.name] = () => 0;
    }
    const inst = await WebAssembly.instantiate(mod, imports);
    const ex = inst.exports as { memory: WebAssembly.Memory; boot: () => void };
    this.memory = ex.memory;
    this.host.memory = ex.memory;
    // A host interface with guarded calls runs them through the module's table.
    (this.host as unknown as { table?: WebAssembly.Table | null }).table = (inst.exports.table as WebAssembly.Table | undefined) ?? null;
    if (process.env.SKIFF_DEV_BREAK === "1" && inspector.url()) {
      process.stderr.write("skiff dev: waiting for a debugger; it pauses before the kernel starts (the app's .ts is under the wasm:// script's sources)\n");
      inspector.waitForDebugger();
      // eslint-disable-next-line no-debugger
      debugger;       // set breakpoints in the app's TypeScript now, then resume
    }
    try {
      ex.boot();
      return 0;
    } catch (e) {
      if (e instanceof GuestExitError) return e.status < 0 ? 126 : e.status;
      this.uart.flush();
      // A Wasm trap, or V8's stack limit (runaway recursion): status 71 as
      // the loader gives, with V8's stack (function names from --debug).
      if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
        process.stderr.write(`wasm trap: ${e.message}\n${(e.stack ?? "").split("\n").slice(1, 12).join("\n")}\n`);
        return 71;
      }
      throw e;
    } finally {
      this.uart.flush();
    }
  }
}

function readFrom(fd: number, n: number): Buffer | null {
  const b = Buffer.alloc(n);
  let o = 0;
  while (o < n) {
    let got: number;
    try { got = readSync(fd, b, o, n - o, null); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") continue;
      throw e;
    }
    if (got === 0) return null;
    o += got;
  }
  return b;
}

/** The child's main: `skiff dev --child <wasm> <memory bytes> <cmdline>`, or
 *  `skiff dev --child` alone: a spare started ahead of the next reload, which
 *  waits for those arguments (a JSON array) from the supervisor. */
export async function childMain(args: string[]): Promise<number> {
  if (args.length === 0) {
    const h = readFrom(IN_FD, 4);
    if (h === null) return 0;
    const body = readFrom(IN_FD, h.readUInt32LE(0));
    if (body === null) return 0;
    args = JSON.parse(body.toString()) as string[];
  }
  const [wasm, mem, ...rest] = args;
  const rt = new HostedRuntime({ wasm, memoryBytes: Number(mem), cmdline: rest.join(" ") });
  return rt.run();
}
