// bench/ab-http.ts — a quick side-by-side of the small-file HTTP row: Skiff's
// httpd and the Linux guest's nginx (bench/linux/guest.ts), q35, -m 256M,
// wrk -t1 -c32 over a tap device in a network namespace (no host forward: see
// docs/BENCHMARKS.md on user networking's p99) and over user networking,
// the two servers alternating round by round; the raw figures go to
// bench/results/http-ab-<date>.json. For a loaded machine where the full
// `--vs linux` run takes too long; the tables of docs/BENCHMARKS.md come
// from `npm run bench`.
// Run: node_modules/.bin/esbuild bench/ab-http.ts --bundle --platform=node --format=esm --packages=external \
//        --outfile=build/ab-http.mjs && node build/ab-http.mjs [rounds=2] [seconds=10]
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runWrk } from "./lib/http.js";
import { ensureLinuxGuest, ensureNginxGuest } from "./linux/guest.js";
import { buildSkiffHttpd, startServer, TapNs, type Kind, type Network } from "./linux/servers.js";
import { HTTP_CONNECTIONS } from "./http.js";

const root = process.cwd();
const rounds = Number(process.argv[2] ?? 2);
const secs = Number(process.argv[3] ?? 10);
const io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) } as never;
const g = ensureLinuxGuest(root, io);
const nginx = ensureNginxGuest(root, io, g);
const skiff = await buildSkiffHttpd(root, io);
const networks: Network[] = TapNs.usable() ? ["tap", "user"] : ["user"];
const runs: { round: number; network: Network; kind: Kind; rps: number | null; p50Ms: number | null; p99Ms: number | null; errors: number; requests: number | null }[] = [];
for (let round = 0; round < rounds; round++) {
  for (const network of networks) {
    for (const kind of (round % 2 ? ["linux", "skiff"] : ["skiff", "linux"]) as Kind[]) {
      const s = await startServer({
        kind, network, machine: "q35", memory: "256M", skiffElf: skiff.elf, g, linuxInitrd: kind === "linux" ? nginx.initramfs : undefined,
        readyLimitMs: 120000, lifeMs: 120000 + (secs + 60) * 1000, tag: `abh${process.pid % 10000}`,
      });
      try {
        if (s.firstHttpMs === null) { console.log(`${kind} ${network}: no answer`); continue; }
        const w = await runWrk(`${s.web}/index.html`, secs, s.prefix, { connections: HTTP_CONNECTIONS });
        runs.push({ round, network, kind, rps: w.rps, p50Ms: w.p50Ms, p99Ms: w.p99Ms, errors: w.errors, requests: w.requests });
        console.log(`round ${round + 1} ${network} ${kind}: ${w.rps?.toFixed(0)} req/s, p50 ${w.p50}, p99 ${w.p99}, ${w.errors} socket errors`);
      } finally {
        await s.stop();
      }
    }
  }
}
const stamp = new Date().toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
mkdirSync(join(root, "bench", "results"), { recursive: true });
const out = join(root, "bench", "results", `http-ab-${stamp}.json`);
writeFileSync(out, JSON.stringify({ what: "httpd vs nginx, wrk -t1 -c32", secs, nginx: nginx.version, runs }, null, 2) + "\n");
console.log(`raw: ${out}`);
