// test/platform/core-devices.ts — fake interrupt and timer hardware for the
// kernel core's unit tests, driven by FakeHost's TSC: a local APIC (xAPIC MMIO,
// timer in one-shot mode), an I/O APIC (index/data window, redirection table)
// and an 8254 PIT (channel 0 with the latch command). FakeLapic.install makes
// the host's irq_wait jump the TSC to the armed deadline and raise the timer
// vector, so a tickless loop runs in simulated time.
import type { FakeHost, MmioDevice, PortDevice } from "./host.js";

export class FakeLapic implements MmioDevice {
  base = 0xfee00000n;
  size = 0x1000n;
  regs = new Map<number, number>();
  /** The APIC timer's input clock before the divider. */
  busHz = 1_000_000_000n;
  armedAt = 0n;
  initCount = 0n;
  /** Every one-shot count programmed (for "tickless" assertions). */
  arms: bigint[] = [];
  waits = 0;

  constructor(public host: FakeHost, public tscHz: bigint) {}

  static install(host: FakeHost, tscHz: bigint): FakeLapic {
    const l = new FakeLapic(host, tscHz);
    host.mmio.push(l);
    host.cpuidTable.set("1", [0, 0, 0, 1 << 9]);          // EDX.APIC
    host.msrs.set(0x1b, 0xfee00000n | (1n << 8n));          // BSP, xAPIC at the default base
    host.onWait = () => l.onWait();
    return l;
  }

  private divisor(): bigint {
    const d = this.regs.get(0x3e0) ?? 0;
    const code = (d & 3) | ((d >> 1) & 4);
    return code === 7 ? 1n : 2n << BigInt(code);
  }

  private ticksSince(): bigint {
    return ((this.host.tsc - this.armedAt) * this.busHz) / (this.divisor() * this.tscHz);
  }

  read(off: bigint): bigint {
    const o = Number(off);
    if (o === 0x390) {
      if (this.initCount === 0n) return 0n;
      const left = this.initCount - this.ticksSince();
      return left > 0n ? left : 0n;
    }
    if (o === 0x30) return 0x50014n;
    return BigInt(this.regs.get(o) ?? 0);
  }

  write(off: bigint, _w: number, v: bigint): void {
    const o = Number(off);
    this.regs.set(o, Number(v));
    if (o === 0x380) {
      this.initCount = v;
      this.armedAt = this.host.tsc;
      if (v !== 0n && !((this.regs.get(0x320) ?? 0x10000) & 0x10000)) this.arms.push(v);
    }
  }

  /** TSC value at which the armed one-shot fires, or null. */
  deadline(): bigint | null {
    const lvt = this.regs.get(0x320) ?? 0x10000;
    if (this.initCount === 0n || lvt & 0x10000) return null;
    return this.armedAt + (this.initCount * this.divisor() * this.tscHz + this.busHz - 1n) / this.busHz;
  }

  onWait(): void {
    this.waits++;
    if (this.host.pendingIrqs.size > 0) return;
    const d = this.deadline();
    if (d === null) throw new Error("irq_wait with no interrupt pending and no timer armed: the guest would sleep forever");
    if (this.host.tsc < d) this.host.tsc = d;
    this.initCount = 0n;
    this.host.pendingIrqs.add((this.regs.get(0x320) ?? 0) & 0xff);
  }
}

export class FakeIoApic implements MmioDevice {
  size = 0x20n;
  sel = 0;
  red: number[];
  constructor(public base = 0xfec00000n, public pins = 24) {
    this.red = new Array(pins * 2).fill(0);
    for (let p = 0; p < pins; p++) this.red[2 * p] = 0x10000;
  }
  read(off: bigint): bigint {
    if (off === 0x10n) {
      if (this.sel === 1) return BigInt(((this.pins - 1) << 16) | 0x20);
      if (this.sel >= 0x10 && this.sel < 0x10 + this.red.length) return BigInt(this.red[this.sel - 0x10] >>> 0);
    }
    return 0n;
  }
  write(off: bigint, _w: number, v: bigint): void {
    if (off === 0n) this.sel = Number(v);
    else if (off === 0x10n && this.sel >= 0x10 && this.sel < 0x10 + this.red.length) this.red[this.sel - 0x10] = Number(v);
  }
  entry(pin: number): bigint {
    return (BigInt(this.red[2 * pin + 1] >>> 0) << 32n) | BigInt(this.red[2 * pin] >>> 0);
  }
}

/** 8254 channel 0: mode 0 from a 65536 count, latched reads, time from the host TSC. */
export class FakePit implements PortDevice {
  start = 0n;
  latched: number[] = [];
  constructor(public host: FakeHost, public tscHz: bigint) {}
  static install(host: FakeHost, tscHz: bigint): FakePit {
    const p = new FakePit(host, tscHz);
    host.ports.set(0x40, p);
    host.ports.set(0x43, p);
    return p;
  }
  private count(): number {
    const ticks = ((this.host.tsc - this.start) * 1193182n) / this.tscHz;
    return Number((65536n - (ticks % 65536n)) % 65536n);
  }
  read(port: number): number {
    this.host.tsc += this.tscHz / 1_000_000n;   // a port read takes about 1 µs
    if (port === 0x40) return this.latched.shift() ?? 0;
    return 0xff;
  }
  write(port: number, _w: number, v: number): void {
    if (port === 0x43) {
      if ((v & 0x30) === 0) { const c = this.count(); this.latched = [c & 0xff, c >> 8]; }
      else this.start = this.host.tsc;
    }
  }
}
