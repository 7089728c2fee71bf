// test/system/slowloris-client.mjs — the two sides of test/system/slowloris.test.ts,
// run as a child process so the test can start it inside a network namespace
// (`ip netns exec NS node slowloris-client.mjs '<json>'`) as well as on the host.
//
// Slow side: `slow` connections to each target port, as the slowloris tool
// keeps them: each opens with a request line and one header line, then every
// `intervalMs` gets one more header line, never the blank line that ends the
// section; a connection the server ended is opened again at the next tick.
// Connections are opened at most `connectWidth` at a time, bound round-robin
// to the `sources` addresses (none: the host's choice).
// Legitimate side: once every slow connection has been opened, one request
// per target after another on fresh connections (from `legit`, if given),
// every `probeEveryMs`, until `durationMs` have passed; each one's status and
// time to the complete answer are recorded.
// Prints one JSON line: per target the probes (statuses, latencies) and what
// the slow connections met (opened, ended by the server, answers seen).
import { connect } from "node:net";

const cfg = JSON.parse(process.argv[2]);
const { host, targets, slow, intervalMs, durationMs, probeEveryMs } = cfg;
const sources = cfg.sources ?? [];
const connectWidth = cfg.connectWidth ?? 32;

const stats = targets.map(() => ({ opened: 0, ended: 0, failed: 0, answers: {}, openNow: 0, minOpen: Infinity, maxOpen: 0 }));
const slots = [];
for (let i = 0; i < slow; i++) for (let t = 0; t < targets.length; t++) slots.push({ t, i, sock: null, connecting: false, lines: 0, ever: false });
let pending = 0;
let stopping = false;
let nextSource = 0;

function openSlot(slot) {
  if (stopping || slot.sock || slot.connecting || pending >= connectWidth) return false;
  const st = stats[slot.t];
  slot.connecting = true;
  pending++;
  const opts = { host, port: targets[slot.t].port };
  if (sources.length > 0) opts.localAddress = sources[nextSource++ % sources.length];
  const s = connect(opts);
  let connected = false;
  s.setNoDelay(true);
  s.on("connect", () => {
    connected = true;
    pending--;
    slot.connecting = false;
    slot.sock = s;
    slot.lines = 0;
    slot.ever = true;
    st.opened++;
    st.openNow++;
    s.write(`GET /?slow=${slot.t}-${slot.i} HTTP/1.1\r\nHost: guest\r\nUser-Agent: slowloris-test\r\n`);
  });
  s.on("data", (d) => {
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(d.toString("latin1"));
    if (m) st.answers[m[1]] = (st.answers[m[1]] ?? 0) + 1;
  });
  s.on("error", () => {});
  s.on("close", () => {
    if (connected) {
      st.openNow--;
      if (!stopping) st.ended++;
    } else {
      pending--;
      st.failed++;
    }
    slot.sock = null;
    slot.connecting = false;
  });
  return true;
}

/** Ramp: opens slots never opened yet, as far as connectWidth allows; true
 *  once every slot has been open (the server may have ended some since). */
function ramp() {
  let all = true;
  for (const slot of slots) {
    if (slot.ever) continue;
    all = false;
    if (pending < connectWidth) openSlot(slot);
  }
  return all;
}

/** Slots the server ended, to be opened again (at most connectWidth at a time). */
let reopen = [];
function refill() {
  while (reopen.length > 0 && pending < connectWidth) {
    const slot = reopen.shift();
    if (!slot.sock && !slot.connecting) openSlot(slot);
  }
}

/** Every intervalMs: one more header line on each open slow connection, and
 *  the ones that were ended are opened again (as the slowloris tool does). */
function tick() {
  reopen = [];
  for (const slot of slots) {
    if (slot.sock && !slot.sock.destroyed) slot.sock.write(`X-Slow-${slot.lines++}: ${"z".repeat(8)}\r\n`);
    else if (!slot.connecting) reopen.push(slot);
  }
  refill();
}

/** One request on a fresh connection; the complete answer read. */
function probe(target) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const opts = { host, port: target.port };
    if (cfg.legit) opts.localAddress = cfg.legit;
    const s = connect(opts);
    const chunks = [];
    const done = (status, why) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ status, why, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    };
    const timer = setTimeout(() => done(0, "no answer in 30 s"), 30_000);
    s.on("connect", () => s.write(`GET ${target.path} HTTP/1.1\r\nHost: guest\r\n${target.headers ?? ""}Connection: close\r\n\r\n`));
    s.on("data", (d) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = all.subarray(0, end).toString("latin1");
      const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (cl && all.length - end - 4 < Number(cl[1])) return;
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      done(m ? Number(m[1]) : -1, m ? "" : "bad status line");
    });
    s.on("error", (e) => done(0, e.code ?? String(e)));
    s.on("close", () => done(0, "closed before a complete answer"));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const t0 = Date.now();
// Progress on stderr (shown when the test fails).
const progress = setInterval(() => {
  process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(0)} s: ` +
    stats.map((st, t) => `${targets[t].name} open ${st.openNow} opened ${st.opened} ended ${st.ended} failed ${st.failed}`).join("; ") + "\n");
}, 10_000);
// Ramp: every slot opened once.
let lastLines = Date.now();
while (!ramp()) {
  await sleep(20);
  // Slots already open keep sending their lines while the others open.
  if (Date.now() - lastLines >= intervalMs) {
    lastLines = Date.now();
    for (const slot of slots) if (slot.sock && !slot.sock.destroyed) slot.sock.write(`X-Slow-${slot.lines++}: ${"z".repeat(8)}\r\n`);
  }
  if (Date.now() - t0 > cfg.rampLimitMs) break;
}
const rampMs = Date.now() - t0;
const filler = setInterval(refill, 50);
let lastTick = Date.now();
tick();
const ticker = setInterval(() => { tick(); lastTick = Date.now(); }, intervalMs);
const probes = targets.map(() => []);
const tEnd = Date.now() + durationMs;
while (Date.now() < tEnd) {
  for (let t = 0; t < targets.length; t++) {
    const st = stats[t];
    st.minOpen = Math.min(st.minOpen, st.openNow);
    st.maxOpen = Math.max(st.maxOpen, st.openNow);
    probes[t].push(await probe(targets[t]));
  }
  await sleep(probeEveryMs);
}
stopping = true;
clearInterval(progress);
clearInterval(filler);
clearInterval(ticker);
void lastTick;
for (const slot of slots) if (slot.sock) slot.sock.destroy();
await sleep(200);
const out = targets.map((tg, t) => {
  const ms = probes[t].map((p) => p.ms).sort((a, b) => a - b);
  const q = (f) => ms.length ? Math.round(ms[Math.min(ms.length - 1, Math.floor(f * ms.length))]) : 0;
  return {
    name: tg.name, port: tg.port,
    probes: probes[t].length,
    ok: probes[t].filter((p) => p.status === 200).length,
    failures: probes[t].filter((p) => p.status !== 200).map((p) => `${p.status} ${p.why} after ${Math.round(p.ms)} ms`),
    p50: q(0.5), p90: q(0.9), p99: q(0.99), max: Math.round(ms[ms.length - 1] ?? 0),
    slow: { ...stats[t], minOpen: stats[t].minOpen === Infinity ? 0 : stats[t].minOpen },
  };
});
console.log(JSON.stringify({ rampMs, targets: out }));
process.exit(0);
