// `skiff run --restart`: which endings restart the guest, the backoff, the
// limit, and the reset after a healthy run (cli/commands/run.ts RestartPolicy).
// The system test (test/system/faults.test.ts) restarts a real guest.
import { describe, expect, it } from "vitest";
import { RestartPolicy } from "../../cli/commands/run.js";
import { EXIT } from "../../cli/lib/status.js";

describe("RestartPolicy", () => {
  it("never restarts under never", () => {
    const p = new RestartPolicy("never", 5);
    for (const s of [0, 1, 70, 71, 72, 126]) expect(p.next(s, 10)).toBeNull();
  });

  it("on-failure: panic, trap, CPU exception and no status; not success, app failures, timeout, QEMU or loader errors", () => {
    for (const s of [EXIT.PANIC, EXIT.TRAP, EXIT.FAULT, EXIT.NO_STATUS]) expect(new RestartPolicy("on-failure", 5).next(s, 10)).toBe(1000);
    for (const s of [0, 1, 63, EXIT.LOADER, EXIT.TIMEOUT, EXIT.QEMU_FAILED, EXIT.INTERRUPTED]) expect(new RestartPolicy("on-failure", 5).next(s, 10)).toBeNull();
  });

  it("always: also success and app failures, still not timeout, QEMU, loader errors or Ctrl-C", () => {
    for (const s of [0, 1, 63, EXIT.PANIC]) expect(new RestartPolicy("always", 5).next(s, 10)).toBe(1000);
    for (const s of [EXIT.LOADER, EXIT.TIMEOUT, EXIT.QEMU_FAILED, EXIT.INTERRUPTED]) expect(new RestartPolicy("always", 5).next(s, 10)).toBeNull();
  });

  it("backs off 1, 2, 4 ... 60 s and gives up after max in a row", () => {
    const p = new RestartPolicy("on-failure", 8);
    const delays = Array.from({ length: 9 }, () => p.next(EXIT.TRAP, 100));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, null]);
    expect(p.count).toBe(8);
  });

  it("a run of over a minute starts count and delay over", () => {
    const p = new RestartPolicy("on-failure", 2);
    expect(p.next(EXIT.PANIC, 10)).toBe(1000);
    expect(p.next(EXIT.PANIC, 10)).toBe(2000);
    expect(p.next(EXIT.PANIC, 10)).toBeNull();
    expect(p.next(EXIT.PANIC, 61_000)).toBe(1000);
    expect(p.count).toBe(1);
  });

  it("refuses a bad --restart-max", () => {
    expect(() => new RestartPolicy("always", -1)).toThrow(/--restart-max/);
    expect(() => new RestartPolicy("always", 1.5)).toThrow(/--restart-max/);
  });
});
