// bench/netclient.mjs — the host half of bench/net.ts, a plain Node script so
// it can run inside a network namespace (`ip netns exec NS node netclient.mjs`)
// as well as on the host. Talks to the guest's echo (7), discard (9) and
// source (19) services and prints one JSON object:
//   up: host → guest MiB/s (write N bytes to discard, half-close, wait for the
//       guest's close: it has read everything)
//   down: guest → host MiB/s (read N bytes from source, then close)
//   connPerS: sequential connections per second to echo, each one byte there
//       and back and a close
//   rtt: one connection to echo, one byte bounced, µs per round trip
// Usage: node netclient.mjs '{"host":"127.0.0.1","echo":7,"discard":9,"source":19,"bytes":N,"conns":N,"pings":N}'
import { connect } from "node:net";

const o = JSON.parse(process.argv[2]);
const MiB = 1024 * 1024;
const LIMIT_MS = o.limitMs ?? 60000;

function withLimit(p, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no answer in ${LIMIT_MS} ms`)), LIMIT_MS); })])
    .finally(() => clearTimeout(t));
}

function up(bytes) {
  return withLimit(new Promise((res, rej) => {
    const s = connect(o.discard, o.host);
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    let left = bytes;
    let t0 = 0;
    s.setNoDelay(true);
    s.on("error", rej);
    s.on("connect", () => {
      t0 = performance.now();
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { s.once("drain", pump); return; }
        }
        s.end();
      };
      pump();
    });
    s.on("data", () => {});
    s.on("close", () => res((bytes / MiB) / ((performance.now() - t0) / 1000)));
  }), "up");
}

function down(bytes) {
  return withLimit(new Promise((res, rej) => {
    const s = connect(o.source, o.host);
    let got = 0;
    let t0 = 0;
    s.on("connect", () => { t0 = performance.now(); });
    s.on("data", (d) => {
      got += d.length;
      if (got >= bytes && t0) {
        const r = (got / MiB) / ((performance.now() - t0) / 1000);
        t0 = 0;
        s.destroy();
        res(r);
      }
    });
    s.on("error", rej);
    s.on("close", () => { if (t0) rej(new Error(`source closed after ${got} bytes`)); });
  }), "down");
}

/** One connection: a byte there and back, then close; resolves when closed. */
function oneConn() {
  return new Promise((res, rej) => {
    const s = connect(o.echo, o.host);
    s.setNoDelay(true);
    s.on("connect", () => s.write("x"));
    s.on("data", () => s.end());
    s.on("error", rej);
    s.on("close", () => res());
  });
}

async function conns(n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await withLimit(oneConn(), "connection");
  return n / ((performance.now() - t0) / 1000);
}

function rtt(n) {
  return withLimit(new Promise((res, rej) => {
    const s = connect(o.echo, o.host);
    s.setNoDelay(true);
    const times = [];
    let t = 0;
    const ping = () => { t = performance.now(); s.write("p"); };
    s.on("connect", ping);
    s.on("data", () => {
      times.push((performance.now() - t) * 1000);
      if (times.length < n) ping();
      else { s.destroy(); times.sort((a, b) => a - b); res({ p50: times[times.length >> 1], p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))], n }); }
    });
    s.on("error", rej);
  }), "rtt");
}

const result = {};
for (const [name, f] of [["rtt", () => rtt(o.pings)], ["connPerS", () => conns(o.conns)], ["up", () => up(o.bytes)], ["down", () => down(o.bytes)]]) {
  try { result[name] = await f(); } catch (e) { result[name] = null; result[name + "Error"] = String(e.message ?? e); }
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
