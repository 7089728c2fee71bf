// test/platform/host.ts — the host-import interface (kernel/platform/host.ts,
// version 2) implemented in TypeScript, so kernel modules compiled to Wasm run
// inside Node against simulated devices: port and MMIO handlers, a sparse
// physical memory (boot info samples), a fake TSC, pending interrupt vectors.

import { randomBytes } from "node:crypto";

export const HOSTIF_VERSION = 5;

/** Thrown by fault_abort inside a guarded call: unwinds to guarded_call. */
export class FaultUnwind extends Error {
  constructor(public code: number, public text: string) {
    super(text);
  }
}

/** Fault codes of guarded_call (kernel/core/fault.ts, boot/hostif.h). */
export const FAULT_TRAP = 1;
export const FAULT_ABORT = 2;
export const GUARD_RUN_HERE = 255;

/** Thrown when the guest writes isa-debug-exit: ends the Wasm call stack. */
export class GuestExitError extends Error {
  constructor(public status: number) {
    super(`guest exited with status ${status}`);
  }
}

export interface PortDevice {
  read(port: number, width: 1 | 2 | 4): number;
  write(port: number, width: 1 | 2 | 4, value: number): void;
}

export interface MmioDevice {
  base: bigint;
  size: bigint;
  read(offset: bigint, width: 1 | 2 | 4 | 8): bigint;
  write(offset: bigint, width: 1 | 2 | 4 | 8, value: bigint): void;
}

/** A 16550 that records what is transmitted and can feed received bytes.
 *  With fifo, it models a 16550A whose line is slow: written bytes wait in
 *  a 16-byte transmit FIFO that drains only when LSR is read, and a write
 *  into a full FIFO counts as an overrun (a byte real hardware would lose). */
export class FakeUart implements PortDevice {
  bytes: number[] = [];
  rx: number[] = [];
  lcr = 0;
  fcr = 0;
  writes: { reg: number; value: number }[] = [];
  inFifo = 0;
  overruns = 0;
  lsrReads = 0;
  constructor(public base = 0x3f8, public fifo = false) {}
  read(port: number): number {
    const reg = port - this.base;
    if (reg === 5) {
      this.lsrReads++;
      this.inFifo = 0;                                       // the line caught up
      return 0x60 | (this.rx.length ? 1 : 0);                // THR empty, TX idle
    }
    if (reg === 0 && !(this.lcr & 0x80)) return this.rx.shift() ?? 0;
    if (reg === 2) return this.fifo && this.fcr & 1 ? 0xc1 : 0x01;   // IIR: FIFOs on?, no interrupt
    if (reg === 3) return this.lcr;
    return 0;
  }
  write(port: number, _w: number, value: number): void {
    const reg = port - this.base;
    this.writes.push({ reg, value });
    if (reg === 3) this.lcr = value;
    else if (reg === 2) this.fcr = value;
    else if (reg === 0 && !(this.lcr & 0x80)) {
      const depth = this.fifo && this.fcr & 1 ? 16 : 1;
      if (this.inFifo >= depth) this.overruns++;
      else this.inFifo++;
      this.bytes.push(value & 0xff);
    }
  }
  text(): string {
    return Buffer.from(this.bytes).toString("utf8");
  }
}

export interface FakeHostOptions {
  bootProtocol?: number;
  bootInfo?: bigint;
  bootRecord?: bigint;
  linearBase?: bigint;
  /** Nanoseconds per TSC tick for the fake clock (default 1: a 1 GHz TSC). */
  tscHz?: number;
}

export class FakeHost {
  memory!: WebAssembly.Memory;
  ports = new Map<number, PortDevice>();
  mmio: MmioDevice[] = [];
  phys: { base: bigint; bytes: Uint8Array }[] = [];
  uart = new FakeUart();
  tsc = 0n;
  /** Each rdtsc advances the clock by this many ticks, so busy loops end. */
  tscStep = 0n;
  msrs = new Map<number, bigint>();
  /** What rdrand64 returns: random bytes (default), a fixed value, or failure (null). */
  rdrand: (() => bigint | null) = () => BigInt.asUintN(64, BigInt("0x" + randomBytes(8).toString("hex")));
  cpuidTable = new Map<string, [number, number, number, number]>();
  pendingIrqs = new Set<number>();
  irqEnabled = false;
  irqCount = 0n;
  eoi: { mode: number; addr: bigint } = { mode: 0, addr: 0n };
  memoryLimit = 0n;
  /** memory_reserve: growth guarded calls may not use (recorded only: V8 grows memory itself). */
  memoryReserve = 0n;
  /** The module's function table (exported with --exportTable), for guarded_call. */
  table: WebAssembly.Table | null = null;
  guardDepth = 0;
  pressure: { fn: number; arg: number; zone: bigint } | null = null;
  faultText = "";
  halted = false;
  /** Called when the kernel waits for an interrupt (sti; hlt). */
  onWait: (() => void) | null = null;
  calls = new Map<string, number>();
  bootProtocol: number;
  bootInfo: bigint;
  /** boot_record: where a boot record (boot/bootrecord.h) sits in phys, 0: none. */
  bootRecord: bigint;
  linearBase: bigint;

  constructor(o: FakeHostOptions = {}) {
    this.bootProtocol = o.bootProtocol ?? 0;
    this.bootInfo = o.bootInfo ?? 0n;
    this.bootRecord = o.bootRecord ?? 0n;
    this.linearBase = o.linearBase ?? 0x200000n;
    for (let p = 0; p < 8; p++) this.ports.set(0x3f8 + p, this.uart);
  }

  addPhys(base: bigint, bytes: Uint8Array): void {
    this.phys.push({ base, bytes });
  }

  private count(name: string): void {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
  }

  private portRead(port: number, w: 1 | 2 | 4): number {
    this.count("in");
    const d = this.ports.get(port);
    return d ? d.read(port, w) >>> 0 : (w === 1 ? 0xff : w === 2 ? 0xffff : 0xffffffff);
  }

  private portWrite(port: number, w: 1 | 2 | 4, v: number): void {
    this.count("out");
    if (port === 0xf4) throw new GuestExitError(v >>> 0);
    this.ports.get(port)?.write(port, w, v >>> 0);
  }

  private mmioFind(addr: bigint): MmioDevice | undefined {
    return this.mmio.find((d) => addr >= d.base && addr < d.base + d.size);
  }

  private mmioRead(addr: bigint, w: 1 | 2 | 4 | 8): bigint {
    this.count("mmio_read");
    const d = this.mmioFind(addr);
    if (!d) return w === 8 ? 0xffffffffffffffffn : (1n << BigInt(8 * w)) - 1n;
    return d.read(addr - d.base, w);
  }

  private mmioWrite(addr: bigint, w: 1 | 2 | 4 | 8, v: bigint): void {
    this.count("mmio_write");
    this.mmioFind(addr)?.write(addr - this.mmioFind(addr)!.base, w, v);
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  /** The "host" import object, every function of interface version 2. */
  imports(): Record<string, WebAssembly.ImportValue> {
    const u64 = (v: bigint) => BigInt.asUintN(64, v);
    return {
      inb: (p: number) => this.portRead(p, 1),
      inw: (p: number) => this.portRead(p, 2),
      inl: (p: number) => this.portRead(p, 4) | 0,
      outb: (p: number, v: number) => this.portWrite(p, 1, v & 0xff),
      outw: (p: number, v: number) => this.portWrite(p, 2, v & 0xffff),
      outl: (p: number, v: number) => this.portWrite(p, 4, v),
      mmio_read8: (a: bigint) => Number(this.mmioRead(u64(a), 1)),
      mmio_read16: (a: bigint) => Number(this.mmioRead(u64(a), 2)),
      mmio_read32: (a: bigint) => Number(this.mmioRead(u64(a), 4)) | 0,
      mmio_read64: (a: bigint) => BigInt.asIntN(64, this.mmioRead(u64(a), 8)),
      mmio_write8: (a: bigint, v: number) => this.mmioWrite(u64(a), 1, BigInt(v & 0xff)),
      mmio_write16: (a: bigint, v: number) => this.mmioWrite(u64(a), 2, BigInt(v & 0xffff)),
      mmio_write32: (a: bigint, v: number) => this.mmioWrite(u64(a), 4, BigInt(v >>> 0)),
      mmio_write64: (a: bigint, v: bigint) => this.mmioWrite(u64(a), 8, u64(v)),
      mb: () => this.count("mb"),
      rmb: () => this.count("rmb"),
      wmb: () => this.count("wmb"),
      rdtsc: () => {
        this.tsc += this.tscStep;
        return BigInt.asIntN(64, this.tsc);
      },
      cpuid: (leaf: number, sub: number, out: number) => {
        const r = this.cpuidTable.get(`${leaf >>> 0}:${sub >>> 0}`) ?? this.cpuidTable.get(`${leaf >>> 0}`) ?? [0, 0, 0, 0];
        const dv = new DataView(this.memory.buffer);
        r.forEach((v, i) => dv.setUint32(out + 4 * i, v >>> 0, true));
      },
      rdrand64: (out: number) => {
        this.count("rdrand64");
        const v = this.rdrand();
        if (v === null) return 0;
        new DataView(this.memory.buffer).setBigUint64(out, BigInt.asUintN(64, v), true);
        return 1;
      },
      rdmsr: (msr: number) => BigInt.asIntN(64, this.msrs.get(msr >>> 0) ?? 0n),
      wrmsr: (msr: number, v: bigint) => { this.msrs.set(msr >>> 0, u64(v)); },
      irq_enable: () => { this.irqEnabled = true; },
      irq_disable: () => { this.irqEnabled = false; },
      irq_wait: () => {
        this.count("irq_wait");
        this.onWait?.();
      },
      irq_take: (out: number) => {
        const b = this.bytes();
        b.fill(0, out, out + 32);
        let n = 0;
        for (const v of this.pendingIrqs) {
          b[out + (v >> 3)] |= 1 << (v & 7);
          n++;
        }
        this.pendingIrqs.clear();
        return n;
      },
      irq_count: () => this.irqCount,
      irq_set_eoi: (mode: number, addr: bigint) => { this.eoi = { mode, addr: u64(addr) }; },
      entry_tsc: () => 0n,
      boot_protocol: () => this.bootProtocol,
      boot_info: () => this.bootInfo,
      boot_record: () => this.bootRecord,
      phys_read: (dst: number, src: bigint, len: number) => {
        const s = u64(src);
        for (const r of this.phys) {
          if (s >= r.base && s + BigInt(len) <= r.base + BigInt(r.bytes.length)) {
            const o = Number(s - r.base);
            this.bytes().set(r.bytes.subarray(o, o + len), dst);
            return len;
          }
        }
        // Partially mapped strings (a command line near a region's end): copy what exists.
        for (const r of this.phys) {
          if (s >= r.base && s < r.base + BigInt(r.bytes.length)) {
            const o = Number(s - r.base);
            const n = Math.min(len, r.bytes.length - o);
            const b = this.bytes();
            b.fill(0, dst, dst + len);
            b.set(r.bytes.subarray(o, o + n), dst);
            return len;
          }
        }
        return 0;
      },
      linear_base: () => this.linearBase,
      memory_limit: (b: bigint) => { this.memoryLimit = u64(b); },
      memory_reserve: (b: bigint) => { this.memoryReserve = u64(b); },
      // V8 grows memory itself, without asking: recorded only.
      memory_pressure: (fn: number, arg: number, zone: bigint) => { this.pressure = { fn, arg, zone: u64(zone) }; },
      // A Wasm trap (RuntimeError) or an abort inside ends only the call, as
      // the loader's setjmp/longjmp does; a guest exit still ends everything.
      guarded_call: (fn: number, arg: number) => {
        const t = this.table;
        // Without the module's table (not exported): the kernel runs the call itself, unguarded.
        if (t === null) return GUARD_RUN_HERE;
        const f = t.get(fn) as ((a: number) => void) | null;
        if (f === null) throw new Error(`guarded_call: no function at table index ${fn}`);
        this.guardDepth++;
        try {
          f(arg);
          return 0;
        } catch (e) {
          if (e instanceof FaultUnwind) { this.faultText = e.text; return e.code; }
          if (e instanceof WebAssembly.RuntimeError) { this.faultText = "wasm trap: " + e.message; return FAULT_TRAP; }
          throw e;
        } finally {
          this.guardDepth--;
        }
      },
      fault_info: (out: number, cap: number) => {
        const b = Buffer.from(this.faultText, "latin1").subarray(0, cap);
        this.bytes().set(b, out);
        return b.length;
      },
      fault_abort: (message: number, file: number, line: number, column: number) => {
        if (this.guardDepth === 0) return;
        const str = (p: number) => {
          if (!p) return "";
          const len = new DataView(this.memory.buffer).getUint32(p - 4, true);
          return Buffer.from(this.bytes().subarray(p, p + len)).toString("utf16le");
        };
        throw new FaultUnwind(FAULT_ABORT, `abort: ${message ? str(message) : "(no message)"}${file ? ` at ${str(file)}:${line}:${column}` : ""}`);
      },
      halt: () => {
        this.halted = true;
        throw new GuestExitError(-1);
      },
    };
  }
}
