// cli/lib/hosted/supervisor.ts — `skiff dev`'s long-lived half: owns the host
// sockets (listening servers on 127.0.0.1, accepted and outgoing connections),
// runs the app's Wasm in a child process (runtime.ts) and answers its requests
// (protocol.ts). A reload starts a fresh child and kills the old one; the
// listening sockets stay open in between, so a client connecting meanwhile
// waits in the queue and is served by the new instance instead of refused.
import { ChildProcess, spawn } from "node:child_process";
import { createServer, connect as netConnect, Server, Socket } from "node:net";
import {
  FrameReader, event, OP_LISTEN, OP_UNLISTEN, OP_CONNECT, OP_SEND, OP_CLOSE, OP_ABORT, OP_WAIT, OP_POLL,
  EV_ACCEPT, EV_DATA, EV_EOF, EV_CONNECTED, EV_CLOSED, EV_WRITABLE, TCP_ERR_REFUSED, TCP_ERR_RESET,
} from "./protocol.js";

export interface Forward { host: number; guest: number }

export interface SupervisorOptions {
  /** How to start the child: node flags (e.g. --inspect) and the script + args before the instance's own. */
  nodeArgs: string[];
  childArgs: string[];
  /** Empty: every guest port P listens on 127.0.0.1:P. Else only these. */
  forwards: Forward[];
  /** Where the supervisor's own lines go. */
  log: (line: string) => void;
  /** The child ended by itself (not by a reload or stop). */
  onExit?: (status: number) => void;
  /** Keep a child started ahead, waiting for its arguments: a reload then
   *  skips Node's start and loading the CLI (not with --inspect: one port). */
  spare?: boolean;
}

interface Listener {
  guestPort: number;
  server: Server | null;          // null: the port is not forwarded (reachable from nowhere, as under QEMU)
  owner: Instance | null;
  waiting: Socket[];              // accepted while no instance listens (during a reload)
}

interface Instance {
  child: ChildProcess;
  queue: Buffer[];
  waitTimer: NodeJS.Timeout | null;
  waiting: boolean;
  conns: Map<number, Socket>;
  ready: boolean;
  gone: boolean;
}

function ipv4(addr: string | undefined): number {
  const m = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr ?? "");
  return m ? ((+m[1] << 24) | (+m[2] << 16) | (+m[3] << 8) | +m[4]) >>> 0 : 0x7f000001;
}

export class Supervisor {
  private listeners = new Map<number, Listener>();
  private cur: Instance | null = null;
  private nextId = 1;
  /** Resolves when the current instance first halts (its main has run and it is serving). */
  private readyWaiters: (() => void)[] = [];

  constructor(private o: SupervisorOptions) {}

  get running(): boolean { return this.cur !== null && !this.cur.gone; }
  get pid(): number | undefined { return this.cur?.child.pid; }

  private spare: ChildProcess | null = null;
  private stopped = false;

  private spawnChild(args: string[]): ChildProcess {
    return spawn(process.execPath, [...this.o.nodeArgs, ...this.o.childArgs, ...args], {
      stdio: ["ignore", "inherit", "inherit", "pipe", "pipe"],
    });
  }

  private makeSpare(): void {
    if (!this.o.spare || this.spare || this.stopped) return;
    const c = this.spawnChild([]);
    (c.stdio[3] as NodeJS.WritableStream).on("error", () => {});
    c.on("exit", () => { if (this.spare === c) this.spare = null; });
    this.spare = c;
  }

  /** Starts an instance with extra args (the Wasm path...), replacing the current one. */
  start(args: string[]): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const old = this.cur;
    if (old) this.kill(old);
    let child: ChildProcess;
    const spare = this.spare;
    this.spare = null;
    if (spare && spare.exitCode === null && !spare.killed) {
      child = spare;
      const body = Buffer.from(JSON.stringify(args));
      const h = Buffer.alloc(4);
      h.writeUInt32LE(body.length, 0);
      (child.stdio[3] as NodeJS.WritableStream).write(Buffer.concat([h, body]));
    } else child = this.spawnChild(args);
    const inst: Instance = { child, queue: [], waitTimer: null, waiting: false, conns: new Map(), ready: false, gone: false };
    this.cur = inst;
    const reader = new FrameReader((op, p) => this.request(inst, op, p));
    (child.stdio[4] as NodeJS.ReadableStream).on("data", (d: Buffer) => reader.push(d));
    (child.stdio[3] as NodeJS.WritableStream).on("error", () => {});
    child.on("exit", (code, signal) => {
      const mine = !inst.gone;
      this.kill(inst);
      if (mine && this.cur === inst) {
        this.cur = null;
        this.flushReady();
        this.o.onExit?.(code ?? (signal ? 128 : 1));
      }
    });
    const ready = new Promise<void>((res) => this.readyWaiters.push(res));
    return ready.then(() => this.makeSpare());
  }

  private flushReady(): void {
    const w = this.readyWaiters;
    this.readyWaiters = [];
    for (const f of w) f();
  }

  /** Ends an instance: its connections are reset, its listeners wait for the next. */
  private kill(inst: Instance): void {
    if (inst.gone) return;
    inst.gone = true;
    if (inst.waitTimer) clearTimeout(inst.waitTimer);
    try { inst.child.kill("SIGKILL"); } catch { /* gone */ }
    for (const s of inst.conns.values()) s.destroy();
    inst.conns.clear();
    for (const l of this.listeners.values()) if (l.owner === inst) l.owner = null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.spare) { this.spare.kill("SIGKILL"); this.spare = null; }
    if (this.cur) this.kill(this.cur);
    this.cur = null;
    for (const l of this.listeners.values()) {
      for (const s of l.waiting) s.destroy();
      l.server?.close();
    }
    this.listeners.clear();
  }

  private write(inst: Instance, payload: Buffer): void {
    if (inst.gone) return;
    const h = Buffer.alloc(4);
    h.writeUInt32LE(payload.length, 0);
    (inst.child.stdio[3] as NodeJS.WritableStream).write(Buffer.concat([h, payload]));
  }

  private push(inst: Instance, ev: Buffer): void {
    if (inst.gone) return;
    inst.queue.push(ev);
    if (inst.waiting) setImmediate(() => this.answer(inst));    // batch what arrives together
  }

  private answer(inst: Instance): void {
    if (!inst.waiting) return;
    inst.waiting = false;
    if (inst.waitTimer) { clearTimeout(inst.waitTimer); inst.waitTimer = null; }
    const b = Buffer.concat(inst.queue);
    inst.queue = [];
    this.write(inst, b);
  }

  private request(inst: Instance, op: number, p: Buffer): void {
    if (inst.gone) return;
    switch (op) {
      case OP_WAIT: {
        if (!inst.ready) {
          inst.ready = true;
          this.closeUnclaimed(inst);
          if (inst === this.cur) this.flushReady();
        }
        inst.waiting = true;
        if (inst.queue.length > 0) { this.answer(inst); break; }
        const ms = p.readDoubleLE(0);
        if (ms >= 0) inst.waitTimer = setTimeout(() => { inst.waitTimer = null; this.answer(inst); }, Math.min(ms, 2 ** 31 - 1));
        break;
      }
      case OP_POLL: {
        const b = Buffer.concat(inst.queue);
        inst.queue = [];
        this.write(inst, b);
        break;
      }
      case OP_LISTEN: this.listen(inst, p.readUInt16LE(0)); break;
      case OP_UNLISTEN: {
        const l = this.listeners.get(p.readUInt16LE(0));
        if (l && l.owner === inst) this.closeListener(l);
        break;
      }
      case OP_CONNECT: this.connect(inst, p.readUInt32LE(0), p.readUInt32LE(4), p.readUInt16LE(8)); break;
      case OP_SEND: {
        const id = p.readUInt32LE(0);
        const data = Buffer.from(p.subarray(4));
        // Once the socket has taken the bytes, the child may send as many more.
        inst.conns.get(id)?.write(data, () => this.push(inst, event(EV_WRITABLE, id, data.length)));
        break;
      }
      case OP_CLOSE: inst.conns.get(p.readUInt32LE(0))?.end(); break;
      case OP_ABORT: {
        const id = p.readUInt32LE(0);
        const s = inst.conns.get(id);
        inst.conns.delete(id);
        s?.resetAndDestroy();
        break;
      }
    }
  }

  private hostPort(guest: number): number | null {
    if (this.o.forwards.length === 0) return guest;
    const f = this.o.forwards.find((x) => x.guest === guest);
    return f ? f.host : null;
  }

  private listen(inst: Instance, port: number): void {
    const status = (v: number) => this.write(inst, Buffer.from([v]));
    const have = this.listeners.get(port);
    if (have) {
      if (have.owner !== null && have.owner !== inst && !have.owner.gone) { status(1); return; }
      have.owner = inst;
      status(0);
      const q = have.waiting;
      have.waiting = [];
      for (const s of q) this.accepted(have, s);
      return;
    }
    const hp = this.hostPort(port);
    const l: Listener = { guestPort: port, server: null, owner: inst, waiting: [] };
    if (hp === null) { this.listeners.set(port, l); status(0); return; }
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.accepted(l, s));
    server.once("error", (e: NodeJS.ErrnoException) => {
      this.o.log(`guest port ${port}: cannot listen on 127.0.0.1:${hp}: ${e.code ?? e.message}`);
      status(1);
    });
    server.listen({ host: "127.0.0.1", port: hp }, () => {
      l.server = server;
      this.listeners.set(port, l);
      if (hp !== port) this.o.log(`guest port ${port} is 127.0.0.1:${hp}`);
      status(0);
    });
  }

  private closeListener(l: Listener): void {
    this.listeners.delete(l.guestPort);
    for (const s of l.waiting) s.destroy();
    l.server?.close();
  }

  /** After a reload: ports the new instance no longer listens on are closed. */
  private closeUnclaimed(inst: Instance): void {
    for (const l of [...this.listeners.values()]) if (l.owner === null && inst === this.cur) this.closeListener(l);
  }

  private accepted(l: Listener, s: Socket): void {
    const inst = l.owner;
    if (inst === null || inst.gone) { l.waiting.push(s); return; }
    const id = this.nextId++ & 0x7fffffff;
    s.setNoDelay(true);
    this.track(inst, id, s);
    this.push(inst, event(EV_ACCEPT, id, l.guestPort, ipv4(s.remoteAddress), s.remotePort ?? 0));
    s.resume();
  }

  private track(inst: Instance, id: number, s: Socket): void {
    inst.conns.set(id, s);
    let reset = false;
    s.on("data", (d: Buffer) => this.push(inst, event(EV_DATA, id, 0, 0, 0, d)));
    s.on("end", () => this.push(inst, event(EV_EOF, id)));
    s.on("error", (e: NodeJS.ErrnoException) => { reset = true; if (e.code === "ECONNREFUSED") s.destroy(); });
    s.on("close", () => {
      if (inst.conns.get(id) !== s) return;
      inst.conns.delete(id);
      this.push(inst, event(EV_CLOSED, id, reset ? (s.connecting ? TCP_ERR_REFUSED : TCP_ERR_RESET) : 0));
    });
  }

  private connect(inst: Instance, id: number, addr: number, port: number): void {
    const host = `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
    const s = netConnect({ host, port, allowHalfOpen: true });
    s.setNoDelay(true);
    let connected = false;
    this.track(inst, id, s);
    s.once("connect", () => { connected = true; this.push(inst, event(EV_CONNECTED, id, s.localPort ?? 0)); });
    s.once("error", () => {
      if (!connected && inst.conns.get(id) === s) { inst.conns.delete(id); this.push(inst, event(EV_CLOSED, id, TCP_ERR_REFUSED)); }
    });
  }
}
