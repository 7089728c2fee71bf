// test/system/core.test.ts — the kernel core in real QEMU (TCG): the guest's
// clock against the host's, tickless idle measured from QEMU's CPU time,
// running out of memory cleanly, and interrupts through the I/O APIC and the
// LAPIC timer on microvm without ACPI and on q35 with it.
import { afterAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { boot, bootAndWait, stopAll } from "../../harness/index.js";

afterAll(stopAll);

/** utime + stime of a process in seconds (/proc/PID/stat fields 14 and 15, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");   // fields from 3 on
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe("clock and idle", () => {
  it("sleeps 10 × 100 ms in step with the host clock, then idles 3 s without burning CPU", async () => {
    const g = await boot({ app: "test/apps/sleep", cmdline: "idle=3000", timeoutMs: 60_000 });
    await g.waitFor(/sleep: start t=\d+/);
    const h0 = performance.now();
    const done = await g.waitFor(/sleep: done elapsed_ns=(\d+)/);
    const hostMs = performance.now() - h0;
    const guestMs = Number(done[1]) / 1e6;
    const ticks = [...g.output.matchAll(/sleep: tick (\d+) t=(\d+)/g)].map((m) => Number(m[2]) / 1e6);
    expect(ticks.length).toBe(10);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1]).toBeGreaterThanOrEqual(100);
    expect(guestMs).toBeGreaterThanOrEqual(1000);
    // Not fast (the guest's second is at least 0.9 of the host's, allowing for
    // serial latency), not more than 3x slow.
    expect(hostMs).toBeGreaterThanOrEqual(guestMs * 0.9);
    expect(hostMs).toBeLessThanOrEqual(guestMs * 3);

    await g.waitFor(/idle: start/);
    const c0 = cpuSeconds(g.pid!), w0 = performance.now();
    expect(c0).toBeGreaterThan(0);   // the right process: booting QEMU took CPU
    const idle = await g.waitFor(/idle: done t=\d+ idle_ns=(\d+) halts=(\d+)/);
    const c1 = cpuSeconds(g.pid!), wallS = (performance.now() - w0) / 1000;
    const share = (c1 - c0) / wallS;
    console.log(`core: guest ${guestMs.toFixed(1)} ms vs host ${hostMs.toFixed(1)} ms; idle ${wallS.toFixed(2)} s used ${(share * 100).toFixed(1)}% CPU, ${idle[2]} halts`);
    expect(wallS).toBeGreaterThan(2.5);
    expect(share).toBeLessThan(0.2);
    // Tickless: a handful of halts for one 3 s timer, not one per tick.
    expect(Number(idle[2])).toBeLessThan(50);
    const r = await g.wait();
    expect(r.status).toBe(0);
  });
});

describe("memory", () => {
  it("an app that allocates until memory runs out gets 0, prints the stats and exits cleanly", async () => {
    const r = await bootAndWait({ app: "test/apps/oom", memory: "32M", timeoutMs: 60_000 });
    expect(r.serial).toMatch(/oom: allocation failed after \d+ runs/);
    expect(r.serial).toMatch(/mem: used \d+ KiB of \d+ KiB.*app \d+ KiB\), alloc failures 1/);
    expect(r.serial).toContain("oom: after free, 256 KiB run ok");
    expect(r.serial).toContain("oom: ok");
    expect(r.status).toBe(0);
  });
});

describe("interrupts", () => {
  it("arrive on microvm without ACPI (I/O APIC found at its standard address)", async () => {
    const r = await bootAndWait({
      app: "test/apps/irq", timeoutMs: 60_000,
      qemuArgs: ["-M", "microvm,x-option-roms=off,rtc=on,acpi=off"],
    });
    expect(r.serial).toContain("interrupts from defaults (no ACPI)");
    expect(r.serial).toMatch(/irq: 16 RTC interrupts on vector 0x[0-9a-f]+, timer vector count [1-9]/);
    expect(r.serial).not.toContain("FAILED");
    expect(r.status).toBe(0);
  });
  it("arrive on q35 (routing from the ACPI MADT)", async () => {
    const r = await bootAndWait({ app: "test/apps/irq", machine: "q35", timeoutMs: 60_000 });
    expect(r.serial).toContain("interrupts from ACPI MADT");
    expect(r.serial).toMatch(/irq: 16 RTC interrupts on vector 0x[0-9a-f]+, timer vector count [1-9]/);
    expect(r.serial).not.toContain("FAILED");
    expect(r.status).toBe(0);
  });
});
