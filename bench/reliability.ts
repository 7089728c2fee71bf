// bench/reliability.ts — `npm run bench -- --only reliability` (issue #16): the
// long variants of test/system/reliability-*.test.ts, with every figure kept.
//   floods:    apps/httpd, 64 MiB q35 guest; over user networking and over a tap
//              in a network namespace: 5,000 connections closed by the client,
//              then 5,000 closed by the server (HTTP/1.0), 32 at a time; the app
//              and the management API probed every 200 ms (latency of each);
//              free memory before and 10 s after.
//   malformed: 500 hostile requests at httpd and at kv; what they got; memory.
//   kills:     20 SIGKILLs of QEMU at random moments of a kv write stream; lost
//              or corrupted acknowledged writes; boots that recovered.
//   netem:     8 MiB through echo from a network namespace over a link with
//              netem's loss 5% reorder 10% duplicate 2% delay 5ms towards the
//              guest (bench/lossylink.py); intact or not, and the time.
// A part that fails is recorded with its error and the run goes on.
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IO } from "../cli/lib/log.js";
import {
  baseline, canTap, ECHO_READY, floodOpts, HTTPD_READY, KV_READY, kvKillCycles, listenOverflows, LOSSY, recovered, siteDisk, sleep,
  startGuest, startLossy, type KillCycle, type Transport,
} from "./lib/hostile.js";


interface Probes { count: number; failed: number; over1s: number; retried: number; maxMs: number | null; p50Ms: number | null; p99Ms: number | null }
export interface FloodRow {
  transport: Transport; order: "client" | "server"; count: number; outcomes: Record<string, number>; ms: number; connPerS: number;
  app: Probes; api: Probes; hostListenOverflows: number;
}
export interface ReliabilityResult {
  floods: { transport: Transport; rows: FloodRow[]; freeBefore: number | null; freeAfter: number | null; drift: number | null; fault: boolean; error?: string }[];
  malformed: { app: string; count: number; kinds: Record<string, Record<string, number>>; legit: number; legitFailed: number; freeBefore: number | null; freeAfter: number | null; drift: number | null; fault: boolean; error?: string;
    heapBefore?: number; heapAfter?: number; heapUsedAfter?: number; netBefore?: number; netAfter?: number;
    /** Polled every 2 s after that for up to 90 s: when the network pages and the heap's live bytes were back (null: not in 90 s). */
    backAfterMs?: number | null; freeLate?: number; heapLate?: number; heapUsedLate?: number; netLate?: number }[];
  kills: { cycles: number; rows: KillCycle[]; lost: number; recovered: number; error?: string };
  netem: { mib: number; ms: number | null; intact: boolean; error?: string; link?: string } | null;
}

const FAULT = /wasm trap|kernel panic|^fault: |out of memory/m;

function blankDisk(dir: string, name: string, bytes: number): string {
  const f = join(dir, name);
  const fd = openSync(f, "w");
  ftruncateSync(fd, bytes);
  closeSync(fd);
  return f;
}

export async function runReliability(io: IO, o: { conns: number; malformed: number; kills: number; netemMiB: number }): Promise<ReliabilityResult> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-rel-"));
  const res: ReliabilityResult = { floods: [], malformed: [], kills: { cycles: o.kills, rows: [], lost: 0, recovered: 0 }, netem: null };
  try {
    for (const transport of canTap ? ["user", "tap"] as const : ["user"] as const) {
      const f: ReliabilityResult["floods"][number] = { transport, rows: [], freeBefore: null, freeAfter: null, drift: null, fault: false };
      res.floods.push(f);
      try {
        const t = await startGuest({ app: "apps/httpd", transport, ports: [8080, 8000], ready: HTTPD_READY, disks: [{ file: siteDisk(dir), readOnly: true }] });
        try {
          f.freeBefore = await baseline(t);
          for (const order of ["client", "server"] as const) {
            const o0 = listenOverflows();
            const r = await t.client(floodOpts(t, order, o.conns));
            const row: FloodRow = { transport, order, count: o.conns, outcomes: r.outcomes, ms: r.ms, connPerS: r.connPerS, app: r.app, api: r.api, hostListenOverflows: listenOverflows() - o0 };
            f.rows.push(row);
            io.out(`  floods ${transport}, ${order} closes: ${JSON.stringify(r.outcomes)} in ${r.ms} ms; probes app max ${r.app.maxMs} ms (${r.app.failed} failed), api max ${r.api.maxMs} ms (${r.api.failed} failed)`);
          }
          const { after, drift } = await recovered(t, f.freeBefore);
          f.freeAfter = after; f.drift = drift;
          f.fault = FAULT.test(t.g.output);
          io.out(`  floods ${transport}: free ${f.freeBefore} -> ${after} (${(drift * 100).toFixed(2)}%)`);
        } finally { await t.close(); }
      } catch (e) { f.error = (e as Error).message.slice(0, 500); io.out(`  floods ${transport}: ERROR ${f.error}`); }
    }

    for (const app of ["apps/httpd", "apps/kv"]) {
      const m: ReliabilityResult["malformed"][number] = { app, count: o.malformed, kinds: {}, legit: 0, legitFailed: 0, freeBefore: null, freeAfter: null, drift: null, fault: false };
      res.malformed.push(m);
      try {
        const kv = app === "apps/kv";
        const t = await startGuest({ app, transport: "user", ports: [8080, 8000], ready: kv ? KV_READY : HTTPD_READY,
          disks: [kv ? { file: blankDisk(dir, "mal.img", 16 << 20) } : { file: siteDisk(dir), readOnly: true }] });
        try {
          const opts = { mode: "malformed", port: t.port(8080), probePath: kv ? "/kv/none" : "/index.html", putPath: kv ? "/kv/m" : undefined, width: 8, limitMs: 8000 };
          await t.client({ ...opts, count: 50 });
          await sleep(3000);
          m.freeBefore = await t.freeBytes();
          const m0 = JSON.parse((await t.g.api("GET", "/os/memory")).body);
          const r = await t.client({ ...opts, count: o.malformed });
          m.kinds = r.kinds; m.legit = r.legit; m.legitFailed = r.legitFailed;
          const { after, drift } = await recovered(t, m.freeBefore);
          m.freeAfter = after; m.drift = drift;
          const m1 = JSON.parse((await t.g.api("GET", "/os/memory")).body);
          m.heapBefore = m0.heap_size; m.heapAfter = m1.heap_size; m.heapUsedAfter = m1.heap_used; m.netBefore = m0.by_subsystem.net; m.netAfter = m1.by_subsystem.net;
          const usable = (x: { free: number; heap_size: number; heap_used: number }) => x.free + x.heap_size - x.heap_used;
          const t1 = Date.now();
          let late = m1;
          m.backAfterMs = null;
          for (;;) {
            if (late.by_subsystem.net <= m0.by_subsystem.net + m.freeBefore * 0.02 && Math.abs(usable(m0) - usable(late)) <= usable(m0) * 0.02) { m.backAfterMs = 10_000 + Date.now() - t1; break; }
            if (Date.now() - t1 > 90_000) break;
            await sleep(2000);
            late = JSON.parse((await t.g.api("GET", "/os/memory")).body);
          }
          m.freeLate = late.free; m.heapLate = late.heap_size; m.heapUsedLate = late.heap_used; m.netLate = late.by_subsystem.net;
          m.fault = FAULT.test(t.g.output);
          io.out(`  malformed ${app}: ${m.legitFailed} of ${m.legit} legitimate requests failed; free ${m.freeBefore} -> ${after} (${(drift * 100).toFixed(2)}%)${m.fault ? "; FAULT logged" : ""}`);
        } finally { await t.close(); }
      } catch (e) { m.error = (e as Error).message.slice(0, 500); io.out(`  malformed ${app}: ERROR ${m.error}`); }
    }

    try {
      const rows = await kvKillCycles(blankDisk(dir, "kill.img", 32 << 20), o.kills, (s) => io.out(`  kills: ${s}`));
      res.kills.rows = rows;
      res.kills.lost = rows.reduce((n, r) => n + r.bad, 0);
      res.kills.recovered = rows.filter((r) => r.recovered).length;
    } catch (e) { res.kills.error = (e as Error).message.slice(0, 500); io.out(`  kills: ERROR ${res.kills.error}`); }

    if (canTap) {
      res.netem = { mib: o.netemMiB, ms: null, intact: false };
      try {
        const t = await startLossy({ app: "apps/echo", transport: "tap", ports: [7], ready: ECHO_READY });
        try {
          const r = await t.client({ mode: "echo", port: 7, bytes: o.netemMiB << 20, limitMs: 900_000 }, 1_000_000);
          res.netem.ms = r.ms; res.netem.intact = r.intact; if (r.error) res.netem.error = `${r.error} after ${r.received} bytes`;
          io.out(`  netem: ${o.netemMiB} MiB through echo in ${r.ms} ms, intact ${r.intact}`);
        } finally { await t.close(); res.netem.link = t.helpers[0]?.out.join("").replace("ready", "").trim(); }
      } catch (e) { res.netem.error = (e as Error).message.slice(0, 500); io.out(`  netem: ERROR ${res.netem.error}`); }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

const mb = (b: number | null) => (b === null ? "n/a" : (b / 1e6).toFixed(2));
const pct = (d: number | null) => (d === null ? "n/a" : `${(-d * 100).toFixed(2)} %`);

export function reliabilityMarkdown(hostLine: string, r: ReliabilityResult): string {
  const floods = r.floods.flatMap((f) => f.error ? [`| ${f.transport} | | | error: ${f.error} | | | |`] : f.rows.map((x) =>
    `| ${f.transport} | ${x.order} | ${x.count.toLocaleString("en")} in ${(x.ms / 1000).toFixed(1)} s (${x.connPerS}/s) | ${Object.entries(x.outcomes).map(([k, v]) => `${k} ${v}`).join(", ")} | ` +
    `${x.app.count - x.app.failed}/${x.app.count}; max ${x.app.maxMs} ms, p50 ${x.app.p50Ms} ms${x.app.retried ? `, ${x.app.retried} sent again` : ""} | ` +
    `${x.api.count - x.api.failed}/${x.api.count}; max ${x.api.maxMs} ms, p50 ${x.api.p50Ms} ms${x.api.retried ? `, ${x.api.retried} sent again` : ""} | ${x.hostListenOverflows} |`));
  const mem = r.floods.map((f) => `${f.transport}: ${mb(f.freeBefore)} → ${mb(f.freeAfter)} MB (${pct(f.drift)})${f.fault ? ", **fault logged**" : ""}`).join("; ");
  const mal = r.malformed.map((m) => m.error ? `| ${m.app} | error: ${m.error} | | |` :
    `| ${m.app} | ${m.count} | ${m.legit - m.legitFailed}/${m.legit} | ${mb(m.freeBefore)} → ${mb(m.freeAfter)} MB (${pct(m.drift)})${m.fault ? ", **fault logged**" : ""} | ` +
    `${mb(m.heapBefore ?? null)} → ${mb(m.heapAfter ?? null)} MB (${mb(m.heapUsedAfter ?? null)}) | ${mb(m.netBefore ?? null)} → ${mb(m.netAfter ?? null)} MB | ` +
    `${m.backAfterMs == null ? "**not within 100 s**" : `${(m.backAfterMs / 1000).toFixed(0)} s`} | ${mb(m.freeLate ?? null)} MB (${pct(m.freeBefore !== null && m.freeLate !== undefined ? (m.freeBefore - m.freeLate) / m.freeBefore : null)}), ` +
    `${mb(m.heapLate ?? null)} MB (${mb(m.heapUsedLate ?? null)}), ${mb(m.netLate ?? null)} MB |`);
  const k = r.kills;
  const acked = k.rows.reduce((n, x) => n + x.acked, 0);
  const boots = k.rows.map((x) => x.bootMs).filter((x) => x > 0).sort((a, b) => a - b);
  const n = r.netem;
  return `## Reliability under hostile load (issue #16, \`--only reliability\`)

${hostLine} \`bench/reliability.ts\`, q35 under TCG, 64 MiB guests; raw JSON in \`bench/results/reliability-*.json\`.
The short variants are \`test/system/reliability-{floods,malformed,kill,netem}.test.ts\`.

### Connection floods (apps/httpd; 32 connections at a time)

| transport | who closes first | connections | outcomes | app probes answered; latency | API probes answered; latency | host listen overflows |
| --- | --- | --- | --- | --- | --- | --- |
${floods.join("\n")}

Free memory before and 10 s after both floods: ${mem}.
Probes: \`GET /index.html\` and \`GET /os/uptime\` (with the token), each on a fresh connection every 200 ms.
Over user networking QEMU's forwarded port listens with a backlog of 1 (\`ss -ltn\` shows Send-Q 1), so
in a burst of connects the host kernel drops the handshake's last ACK: the client believes it is connected,
the guest never sees the connection, and it gets in only through the host's SYN-ACK retransmissions (1, 3,
7, 15, 31 s) or not at all. That is where the ~1 s probe latencies and the "timeout" outcomes over user
networking come from (a probe whose connect was lost so — connected, nothing back in 5 s — is sent again
once, "sent again"); "host listen overflows" is the host's \`TcpExtListenOverflows\` during the flood
(every listener on the host, so other work adds to it). Over tap there is no such listener.

### Malformed requests (user networking)

| app | requests | legitimate GETs answered | free memory, before → 10 s after | heap size (used after) | network pages | network pages and live heap back after | then: free, heap size (used), network pages |
| --- | --- | --- | --- | --- | --- | --- | --- |
${mal.join("\n")}

Requests: garbage, over-long request and header lines, an endless line, 500 header fields, bad chunked
framing (bad, huge and negative sizes, data without CRLF, cut short), Content-Length with
Transfer-Encoding, bad Content-Length, invalid methods and versions, NUL bytes, bare CR, obs-fold,
half-closed requests (\`bench/relclient.mjs\`), 8 at a time; a legitimate GET after every 25. Each got
400, 405, 413, 414, 431 or 505, or (cut short or half-closed) a close; no fault was logged. The heap
must not grow, since linear memory never shrinks: a refused line is not copied, input and partial lines
are pool pages returned once parsed, and a full collection follows every HTTP exchange (at most one per
100 ms), so each request costs the heap a few KiB, collected within 0.1 s. The wait is for the network's
pages: sockets the guest closed while the client was still sending keep their receive buffers until the
client's FIN arrives (the server reads and drops what comes after a refusal).

### SIGKILL of QEMU during kv writes (32 MiB disk)

${k.error ? `error: ${k.error}\n\n` : ""}${k.cycles} kills at random moments (0.5–4 s into a stream of PUTs and DELETEs by 4 writers over keep-alive
connections, values of 1 B–24 KiB, 240 keys): ${acked.toLocaleString("en")} writes acknowledged in all; acknowledged
writes lost or corrupted: **${k.lost}**; boots that recovered the store: **${k.recovered} of ${k.rows.length}** (the
last one only checks); boot to "listening" ${boots.length ? `${(boots[0] / 1000).toFixed(1)}–${(boots[boots.length - 1] / 1000).toFixed(1)} s` : "n/a"}.

### A lossy link (tap + netem)

${n === null ? "Not run (no tap: needs root and /dev/net/tun)." : `What \`tc qdisc add dev TAP root netem loss ${LOSSY.loss * 100}% reorder ${LOSSY.reorder * 100}% duplicate ${LOSSY.duplicate * 100}% delay ${LOSSY.delayMs}ms\`
on the namespace's end of a tap does, done by \`bench/lossylink.py\` between QEMU (\`-netdev dgram\`) and a tap in the
namespace (this host's kernel has no sch_netem): ${n.mib} MiB through echo (up to the guest and back)
${n.intact ? "arrived intact" : "**did not arrive intact**"}${n.ms !== null ? ` in ${(n.ms / 1000).toFixed(1)} s (${(n.mib / (n.ms / 1000)).toFixed(2)} MiB/s)` : ""}${n.error ? ` (${n.error})` : ""}; frames towards the guest: ${n.link ?? "n/a"}.`}
`;
}

export function reliabilitySection(existing: string, body: string): string {
  const begin = "<!-- bench:reliability:begin -->";
  const end = "<!-- bench:reliability:end -->";
  const block = `${begin}\n${body.trim()}\n${end}`;
  const a = existing.indexOf(begin), b = existing.indexOf(end);
  if (a >= 0 && b > a) return existing.slice(0, a) + block + existing.slice(b + end.length);
  const build = existing.indexOf("<!-- bench:build:begin -->");
  if (build >= 0) return existing.slice(0, build) + block + "\n\n" + existing.slice(build);
  return existing.trimEnd() + "\n\n" + block + "\n";
}
