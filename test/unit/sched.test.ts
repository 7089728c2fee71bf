// The kernel core's interrupts, clock, timers and event loop, as Wasm in Node
// against fake LAPIC / I/O APIC / PIT devices (test/platform/core-devices.ts).
// Time is simulated: the fake TSC runs at 1 GHz and jumps to the armed
// deadline when the loop halts, so "sleep 100 ms" takes microseconds.
import { describe, expect, it } from "vitest";
import { FakeHost } from "../platform/host.js";
import { FakeIoApic, FakeLapic, FakePit } from "../platform/core-devices.js";
import { loadKernel } from "../platform/wasm.js";

type E = {
  setup(hz: bigint, madt: number): void; source(): number; ioApics(): number; timerMode(): number; lapicHz(): bigint;
  now(): bigint; calibrated(): bigint; calibratedSource(): number; takeLog(): number;
  heapOrder(d: number, c: number): number;
  addAfter(ms: number, l: number): void; addAt(ms: number, l: number): void; addEvery(ms: number, l: number, lim: number): void;
  cancelLast(): number; daemonLast(): void; loop(): number; once(): void; blockFor(ms: number): void;
  spawnSleeper(n: number, p: number, c: number): void; spawnBusy(n: number, s: number, burn: bigint): void;
  spawnWaiter(): void; routeGsi(g: number, lvl: number, low: number): number; routeIsa(i: number): number;
  msiVector(): number; msiAddr(): bigint; msiDat(v: number): number; dispatch(): number;
  addCountingService(): void; serviceRuns(): number; holdAndQuitAfter(ms: number): void; releaseHold(): void;
  snapshot(): number; idleNs(): bigint; halts(): bigint; hogWarnings(): bigint; setHog(ms: number): void;
  __new(n: number, id: number): number; __pin(p: number): number;
};

const HZ = 1_000_000_000n;

async function core(o: { madt?: boolean; ioapic?: boolean; setup?: boolean } = {}) {
  const host = new FakeHost();
  host.tscStep = 100n;
  host.tsc = 5_000_000n;
  const lapic = FakeLapic.install(host, HZ);
  const io = new FakeIoApic();
  if (o.ioapic ?? true) host.mmio.push(io);
  const k = await loadKernel<E>("test/unit/wasm/core.ts", host);
  const ex = k.exports;
  const s = (t: string) => {
    const buf = Buffer.from(t, "utf16le");
    const p = ex.__pin(ex.__new(buf.length, 2));
    new Uint8Array(ex.memory.buffer).set(buf, p);
    return p;
  };
  if (o.setup ?? true) ex.setup(HZ, o.madt === false ? 0 : 1);
  const log = () => k.str(ex.takeLog());
  return { k, ex, host, lapic, io, s, log };
}

describe("timer heap", () => {
  it("pops in deadline order, equal deadlines in insertion order", async () => {
    const { ex, k, s } = await core();
    expect(k.str(ex.heapOrder(s("50,10,30,10,20,40,0,30"), s("")))).toBe("t6@0 t1@10 t3@10 t4@20 t2@30 t7@30 t5@40 t0@50");
  });
  it("cancelled timers never fire, wherever they sit in the heap", async () => {
    const { ex, k, s } = await core();
    expect(k.str(ex.heapOrder(s("50,10,30,10,20,40,0,30"), s("6,2,5")))).toBe("t1@10 t3@10 t4@20 t7@30 t0@50");
  });
  it("keeps order over many random deadlines with random cancels", async () => {
    const { ex, k, s } = await core();
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 1000;
    const d = Array.from({ length: 300 }, rnd);
    const c = [...new Set(Array.from({ length: 60 }, () => rnd() % 300))];
    const want = d.map((v, i) => ({ v, i })).filter((x) => !c.includes(x.i))
      .sort((a, b) => a.v - b.v || a.i - b.i).map((x) => `t${x.i}@${x.v}`).join(" ");
    expect(k.str(ex.heapOrder(s(d.join(",")), s(c.join(","))))).toBe(want);
  });
});

describe("event loop with a fake clock", () => {
  it("fires after/at/every timers at their simulated times and ends when none is left", async () => {
    const { ex, s, log } = await core();
    ex.addAfter(30, s("a30"));
    ex.addAt(10, s("at10"));
    ex.addEvery(25, s("e"), 3);
    expect(ex.loop()).toBe(0);
    expect(log()).toBe("at10@10 e@25 a30@30 e@50 e@75");
  });
  it("is tickless: one halt per deadline, the LAPIC armed once per wait", async () => {
    const { ex, s, log, lapic } = await core();
    ex.addAfter(100, s("x"));
    ex.addAfter(300, s("y"));
    ex.loop();
    expect(log()).toBe("x@100 y@300");
    expect(Number(ex.halts())).toBe(2);
    expect(lapic.arms.length).toBe(2);
    // 100 ms at 1 GHz / 16: 6.25 M counts, +1 for rounding up.
    expect(Number(lapic.arms[0])).toBeGreaterThan(6_249_000);
    expect(Number(lapic.arms[0])).toBeLessThanOrEqual(6_250_001);
    expect(Number(ex.idleNs())).toBeGreaterThan(290_000_000);
  });
  it("a cancelled timer is not waited for", async () => {
    const { ex, s, log } = await core();
    ex.addAfter(1000, s("never"));
    expect(ex.cancelLast()).toBe(1);
    ex.addAfter(5, s("soon"));
    ex.loop();
    expect(log()).toBe("soon@5");
    expect(Number(ex.now() / 1_000_000n)).toBeLessThan(10);
  });
  it("a daemon timer does not keep the loop alive", async () => {
    const { ex, s, log } = await core();
    ex.addEvery(10, s("d"), 1000);
    ex.daemonLast();
    ex.addAfter(35, s("last"));
    ex.loop();
    expect(log()).toBe("d@10 d@20 d@30 last@35");
  });
  it("sleepBlocking keeps timers running meanwhile", async () => {
    const { ex, s, log } = await core();
    ex.addAfter(20, s("t"));
    ex.blockFor(50);
    expect(log()).toBe("t@20");
    expect(Number(ex.now() / 1_000_000n)).toBe(50);
  });
  it("hold keeps the loop running until requestExit, whose status runLoop returns", async () => {
    const { ex, log } = await core();
    ex.holdAndQuitAfter(40);
    expect(ex.loop()).toBe(7);
    expect(log()).toBe("quit");
  });
});

describe("tasks", () => {
  it("sleeping tasks wake at their deadlines, interleaved by time", async () => {
    const { ex, s, log } = await core();
    ex.spawnSleeper(s("a"), 30, 3);
    ex.spawnSleeper(s("b"), 20, 3);
    ex.loop();
    expect(log()).toBe("a@0 b@0 b@20 a@30 b@40 a@60 b@60 a@90");
  });
  it("busy tasks that call again() take turns round-robin", async () => {
    const { ex, s, log } = await core();
    ex.spawnBusy(s("x"), 3, 0n);
    ex.spawnBusy(s("y"), 2, 0n);
    ex.spawnBusy(s("z"), 1, 0n);
    ex.loop();
    expect(log()).toBe("x0 y0 z0 x1 y1 x2");
  });
  it("interrupts wake a waiting task; the handler runs from the loop, before the task", async () => {
    const { ex, host, log, io } = await core();
    const v = ex.routeGsi(10, 1, 1);
    expect(v).toBeGreaterThanOrEqual(0x30);
    // Level-triggered, active low, vector v, destination APIC 0, unmasked.
    expect(io.entry(10)).toBe(BigInt(v) | (1n << 15n) | (1n << 13n));
    ex.spawnWaiter();
    ex.once();
    expect(log()).toBe("poll0");
    ex.once();
    expect(log()).toBe("");   // waiting: not polled without a wake-up
    host.pendingIrqs.add(v);
    ex.once();
    expect(log()).toBe(`irq${v} poll1`);   // same pass: interrupts first, then ready tasks
    host.pendingIrqs.add(v);
    ex.loop();
    expect(log()).toBe(`irq${v} poll2`);
  });
  it("accounts CPU time and runs per task and warns about a task that hogs the CPU", async () => {
    const { ex, s, k, host } = await core();
    ex.setHog(5);
    ex.spawnBusy(s("hog"), 2, 10_000_000n);   // 10 ms per turn at 1 GHz
    ex.spawnBusy(s("ok"), 5, 0n);
    ex.once();
    expect(k.str(ex.snapshot())).toMatch(/^hog:ready:1:cpu;ok:ready:1:cpu;$/);
    ex.loop();
    expect(Number(ex.hogWarnings())).toBe(2);
    expect(host.uart.text()).toContain("sched: task hog held the CPU for 10 ms");
    expect(k.str(ex.snapshot())).toBe("");
  });
  it("service routines run once per pass", async () => {
    const { ex, s } = await core();
    ex.addCountingService();
    ex.spawnBusy(s("x"), 4, 0n);
    ex.loop();
    expect(ex.serviceRuns()).toBe(4);
  });
});

describe("interrupt routing", () => {
  it("ISA IRQs follow the MADT overrides (IRQ0 → GSI 2; IRQ 9 level, active low)", async () => {
    const { ex, io } = await core();
    const v0 = ex.routeIsa(0);
    expect(io.entry(2) & 0xffn).toBe(BigInt(v0));
    expect(io.entry(0) & (1n << 16n)).toBe(1n << 16n);    // pin 0 stays masked
    const v9 = ex.routeIsa(9);
    expect(io.entry(9)).toBe(BigInt(v9) | (1n << 15n) | (1n << 13n));
  });
  it("a shared GSI keeps one vector; a conflicting trigger mode is refused; unknown GSIs fail", async () => {
    const { ex } = await core();
    const a = ex.routeGsi(16, 1, 1);
    expect(ex.routeGsi(16, 1, 1)).toBe(a);
    expect(ex.routeGsi(16, 0, 0)).toBe(-1);
    expect(ex.routeGsi(24, 0, 0)).toBe(-1);          // one I/O APIC with 24 pins
  });
  it("without ACPI it finds the I/O APIC at the standard address and masks every pin", async () => {
    const { ex, k, io } = await core({ madt: false });
    expect(k.str(ex.source())).toBe("defaults (no ACPI)");
    expect(ex.ioApics()).toBe(1);
    for (let p = 0; p < 24; p++) expect(io.entry(p) & (1n << 16n)).toBe(1n << 16n);
    const v = ex.routeIsa(0);
    expect(io.entry(2) & 0xffn).toBe(BigInt(v));      // IRQ0 on pin 2 by convention
  });
  it("MSI vectors come with the LAPIC's address and edge/fixed data", async () => {
    const { ex } = await core();
    const v = ex.msiVector();
    expect(v).toBeGreaterThanOrEqual(0x30);
    expect(ex.msiAddr()).toBe(0xfee00000n);
    expect(ex.msiDat(v)).toBe(v);
  });
  it("192 vectors, then -1", async () => {
    const { ex } = await core();
    const got = new Set<number>();
    for (let i = 0; i < 192; i++) got.add(ex.msiVector());
    expect(got.size).toBe(192);
    expect(ex.msiVector()).toBe(-1);
  });
});

describe("clock", () => {
  it("calibrates the TSC against the PIT", async () => {
    const { ex, host } = await core({ setup: false });
    FakePit.install(host, 2_400_000_000n);
    const hz = Number(ex.calibrated());
    expect(Math.abs(hz - 2.4e9) / 2.4e9).toBeLessThan(0.001);
  });
  it("prefers CPUID 0x15 when it gives ratio and crystal", async () => {
    const { ex, host, k } = await core({ setup: false });
    host.cpuidTable.set("0", [0x16, 0, 0, 0]);
    host.cpuidTable.set("21", [2, 176, 24_000_000, 0]);     // 24 MHz × 176/2 = 2.112 GHz
    expect(ex.calibrated()).toBe(2_112_000_000n);
    expect(k.str(ex.calibratedSource())).toBe("CPUID 0x15");
  });
  it("falls back to an assumed rate when nothing answers", async () => {
    const { ex, k } = await core({ setup: false });
    expect(ex.calibrated()).toBe(1_000_000_000n);
    expect(k.str(ex.calibratedSource())).toMatch(/assumed/);
  });
  it("measures the LAPIC timer against the TSC and uses one-shot mode", async () => {
    const { ex, k } = await core();
    expect(k.str(ex.timerMode())).toBe("LAPIC one-shot");
    expect(Number(ex.lapicHz())).toBeCloseTo(62_500_000, -4);
  });
});
