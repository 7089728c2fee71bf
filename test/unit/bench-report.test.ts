// Unit tests of bench/report.ts's issue #14 targets and the --vs linux
// section (bench/linux.ts tailNotes): figures in, table rows and verdicts out.
import { describe, expect, it } from "vitest";
import { issue14Markdown, issue14Targets, linuxMarkdown, ISSUE14_LEFT, type HostInfo } from "../../bench/report.js";
import { tailNotes, type FileRow, type LinuxResult, type WrkRow } from "../../bench/linux.js";
import { summarize, smallest } from "../../bench/lib/stats.js";

const host: HostInfo = { date: "2026-12-03T22:10:00Z", accel: "tcg", accelNote: "", cpu: "test CPU", cores: 2, kernel: "6.1", qemu: "QEMU 7.2", node: "v20", quick: false };
const S = (...xs: number[]) => summarize(xs);

function wrk(server: WrkRow["server"], network: WrkRow["network"], connections: number, rps: number[], p99: number[], extra: Partial<WrkRow> = {}): WrkRow {
  return {
    server, network, machine: "q35", connections, rps: S(...rps), p50Ms: S(1), p99Ms: S(...p99), rpsRatio: null, p50Ratio: null, p99Ratio: null,
    runs: rps.map((r, i) => ({ rps: r, p50Ms: 1, p99Ms: p99[i], errors: 0, non2xx: 0 })), ...extra,
  };
}

function file(server: "skiff" | "linux", network: "user" | "tap", mibs: number[], ratio?: number[]): FileRow {
  return { server, network, machine: "q35", mibs: S(...mibs), secs: S(...mibs.map((m) => 16 / m)), ratio: ratio ? S(...ratio) : null, runs: mibs.map((m) => ({ code: 200, bytes: 16 << 20, secs: 16 / m, mibs: m })) };
}

function linuxResult(): LinuxResult {
  const rows: WrkRow[] = [];
  for (const network of ["user", "tap"] as const) {
    for (const c of [32, 256]) {
      rows.push(wrk("skiff", network, c, [6000], [20], { rpsRatio: S(c === 32 ? 6 : 2), p50Ratio: S(0.5), p99Ratio: S(c === 32 ? 0.5 : 1.5) }));
      rows.push(wrk("linux", network, c, [1000], [40]));
    }
  }
  rows.push(wrk("busybox", "user", 32, [100], [900]));
  rows.push(wrk("skiff", "tap", 512, [], [], { runs: [{ rps: null, p50Ms: null, p99Ms: null, errors: 12, non2xx: 7 }], rps: null, p99Ms: null }));
  return {
    rounds: 5, wrkRuns: 1, memory: "256M", readyLimitS: 30, linuxKernel: "linux-image-test", busyboxVersion: "1.35", nginxVersion: "1.22",
    vmlinuxBytes: 1, bzImageBytes: 2, initramfsBytes: 3, skiffImageBytes: 4, file: { bytes: 32 }, minMem: { loKiB: 1024, hiKiB: 524288, stepKiB: 64 },
    machines: [{
      machine: "q35", skiffReadyMs: S(200), linuxReadyMs: S(2000), readyRatio: S(0.1), skiffHttpMs: S(220), linuxHttpMs: S(2100), httpRatio: S(0.1),
      skiffRssMiB: S(50), linuxRssMiB: S(210), rssRatio: S(0.24), skiffMinMemKiB: 2816, linuxMinMemKiB: 72896, linuxHangs: 0, linuxRuns: 5, skiffFailures: 0,
    }],
    http: { machine: "q35", wrkSeconds: 10, wrkArgs: "-t1 -c32 -d10s --latency", levels: [32, 256], rows, notes: ["a note"] },
    files: { machine: "q35", bytes: 16 << 20, downloads: 5, rows: [file("skiff", "user", [30], [1.2]), file("linux", "user", [25]), file("skiff", "tap", [80], [0.2]), file("linux", "tap", [400])] },
  };
}

const net = {
  rows: [
    { guest: "skiff", network: "tap", variant: "virtio_net.no_tso", upMiBs: 1, downMiBs: 1, connPerS: 1 },
    { guest: "skiff", network: "tap", upMiBs: 120, downMiBs: 50, connPerS: 900 },
    { guest: "linux", network: "tap", upMiBs: 100, downMiBs: 200, connPerS: 250 },
    { guest: "skiff", network: "user", upMiBs: 50, downMiBs: 70, connPerS: 600 },
    { guest: "linux", network: "user", upMiBs: 100, downMiBs: 50, connPerS: 250 },
    { guest: "linux", network: "user", variant: "bench.busybox", upMiBs: 1, downMiBs: 1, connPerS: 50 },
  ],
};

describe("issue #14 targets", () => {
  it("computes each ratio from the right rows and says met / not met", () => {
    const t = issue14Targets(net, linuxResult());
    const by = (name: string) => t.find((x) => x.name.startsWith(name))!;
    expect(by("bulk TCP over tap, up")).toMatchObject({ ratio: 1.2, met: true, left: "" });
    expect(by("bulk TCP over tap, down")).toMatchObject({ ratio: 0.25, met: false, left: ISSUE14_LEFT.bulkDown });
    expect(by("16 MiB file over HTTP, user")).toMatchObject({ ratio: 1.2, met: true });
    expect(by("16 MiB file over HTTP, tap")).toMatchObject({ ratio: 0.2, met: false });
    expect(by("small file, keep-alive, -c32, tap: requests/s")).toMatchObject({ ratio: 6, met: true });
    expect(by("small file, keep-alive, -c256, tap: requests/s")).toMatchObject({ ratio: 2, met: false });
    expect(by("small file, keep-alive, -c32, user: p99")).toMatchObject({ ratio: 0.5, met: true });
    expect(by("small file, keep-alive, -c256, user: p99")).toMatchObject({ ratio: 1.5, met: false, left: ISSUE14_LEFT.p99C256 });
    // conn/s is against netsrv (no variant), never the busybox extra line.
    expect(by("connections per second, tap")).toMatchObject({ ratio: 3.6, met: true });
    expect(by("connections per second, user")).toMatchObject({ ratio: 2.4, met: false });
    expect(t).toHaveLength(2 + 2 + 8 + 2);
  });

  it("counts a Skiff row with no valid run as not met, with wrk's errors", () => {
    const r = linuxResult();
    const i = r.http.rows.findIndex((w) => w.server === "skiff" && w.network === "tap" && w.connections === 256);
    r.http.rows[i] = wrk("skiff", "tap", 256, [], [], { runs: [{ rps: null, p50Ms: null, p99Ms: null, errors: 1296, non2xx: 46 }], rps: null, p99Ms: null });
    const t = issue14Targets(net, r).filter((x) => x.name.includes("-c256, tap"));
    expect(t).toHaveLength(2);
    for (const x of t) expect(x).toMatchObject({ met: false, ratio: null, measured: "Skiff: no valid run: 1296 socket errors, 46 non-2xx answers", left: ISSUE14_LEFT.p99C256 });
  });

  it("marks targets whose suite did not run as n/a", () => {
    const t = issue14Targets(null, null);
    expect(t.every((x) => x.met === null && x.ratio === null)).toBe(true);
    expect(t.find((x) => x.name.includes("bulk"))!.measured).toBe("not run (net suite)");
    const md = issue14Markdown("Run X.", t);
    expect(md).toContain("## Issue #14 targets");
    expect(md).toContain("| n/a |");
    expect(md).not.toContain("**not met**");
  });

  it("renders not-met rows with what is left", () => {
    const md = issue14Markdown("Run X.", issue14Targets(net, linuxResult()));
    expect(md).toContain("| bulk TCP over tap, down (guest → host) | ≥ 1.0× Linux | 0.25× (Skiff 50.0 / Linux 200.0 MiB/s) | **not met** | " + ISSUE14_LEFT.bulkDown + " |");
    expect(md).toContain("| met |  |");
  });
});

describe("--vs linux section", () => {
  it("shows both levels, the 16 MiB rows, extras labelled, a failed row and the same -m step for both", () => {
    const md = linuxMarkdown(host, linuxResult());
    expect(md).toContain("| Skiff httpd, tap in a netns | 256 | 6000 (6000–6000) |");
    expect(md).toContain("| extra: Linux guest with busybox httpd (no keep-alive, a fork per request), user | 32 |");
    expect(md).toContain("| Skiff httpd, tap in a netns | 512 | no valid run");
    expect(md).toContain("| 12 (+7 non-2xx) |");
    expect(md).toContain("| Skiff httpd | tap | 80.0 (80.0–80.0) | 200 (200–200) | 0.20 (0.20–0.20) |");
    expect(md).toContain("| smallest -m reaching ready (64 KiB steps, both) | 2816 KiB (2.75 MiB) | 72896 KiB (71.19 MiB) |");
  });

  it("explains every p99 over 50 ms: the user-net forward, tap separately, queueing by Little's law", () => {
    const notes = tailNotes([
      wrk("skiff", "user", 32, [1000], [430]),
      wrk("linux", "tap", 256, [1000], [800]),
      wrk("skiff", "tap", 32, [8000], [9]),
      wrk("busybox", "user", 32, [100], [2000]),
    ]);
    expect(notes).toHaveLength(3);
    expect(notes[0]).toMatch(/user networking: Skiff user -c32 \(p99 up to 430 ms\): QEMU's host forward/);
    expect(notes[1]).toMatch(/over tap .*nginx tap -c256 \(p99 up to 800 ms\)/);
    expect(notes[2]).toMatch(/Little's law.*nginx tap -c256 256 ms/);
    expect(tailNotes([wrk("skiff", "tap", 32, [8000], [9])])).toEqual([]);
  });
});

describe("smallest -m search", () => {
  it("finds the same boundary in the same steps whatever the guest", async () => {
    const probes: number[] = [];
    const got = await smallest(1024, 512 * 1024, 64, async (k) => { probes.push(k); return k >= 72896; });
    expect(got).toBe(72896);
    expect(probes.every((k) => k % 64 === 0)).toBe(true);
    expect(probes.length).toBeLessThanOrEqual(15);
  });
});
