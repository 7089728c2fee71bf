// bench/pcap-http.mjs — where an HTTP benchmark's latency goes, from the
// frames between QEMU's network backend and the guest's NIC. Record them with
// `--qemu-arg=-object --qemu-arg=filter-dump,id=d0,netdev=net0,file=X.pcap,maxlen=128`
// on `skiff run` (or the same two arguments on any QEMU of the benchmark),
// run wrk, then `node bench/pcap-http.mjs X.pcap [port=80]`. Prints, per
// connection to port, when its SYN reached the guest and how many requests it
// carried, and over all requests two percentiles: *guest* (a request's first
// frame in → the response's first frame out: the guest's whole share) and
// *host* (a response out → the next request on that connection in: the
// backend, the host's sockets and the client).
import { readFileSync } from "node:fs";

const file = process.argv[2];
const port = Number(process.argv[3] ?? 80);
if (!file) { console.error("usage: node bench/pcap-http.mjs FILE.pcap [port]"); process.exit(2); }
const d = readFileSync(file);
const magic = d.readUInt32LE(0);
const nano = magic === 0xa1b23c4d;
if (magic !== 0xa1b2c3d4 && !nano) { console.error(`${file}: not a little-endian pcap file`); process.exit(1); }

const conns = new Map();
const guest = [], host = [];
let t0 = null;
for (let off = 24; off + 16 <= d.length;) {
  const ts = d.readUInt32LE(off) + d.readUInt32LE(off + 4) / (nano ? 1e9 : 1e6);
  const incl = d.readUInt32LE(off + 8);
  const f = d.subarray(off + 16, off + 16 + incl);
  off += 16 + incl;
  if (f.length < 54 || f.readUInt16BE(12) !== 0x0800) continue;
  const ip = f.subarray(14);
  const ihl = (ip[0] & 15) * 4;
  if (ip[9] !== 6) continue;
  const tcp = ip.subarray(ihl);
  const sp = tcp.readUInt16BE(0), dp = tcp.readUInt16BE(2);
  const plen = ip.readUInt16BE(2) - ihl - (tcp[12] >> 4) * 4;
  const flags = tcp[13];
  const client = dp === port ? sp : sp === port ? dp : null;
  if (client === null) continue;
  t0 ??= ts;
  let c = conns.get(client);
  if (!c) conns.set(client, c = { syn: null, reqs: 0, pending: null, lastResp: null });
  if (flags & 2 && c.syn === null) c.syn = ts - t0;
  if (dp === port && plen > 0) {
    c.reqs++;
    if (c.lastResp !== null) { host.push(ts - c.lastResp); c.lastResp = null; }
    c.pending ??= ts;
  } else if (sp === port && plen > 0 && c.pending !== null) {
    guest.push(ts - c.pending);
    c.pending = null;
    c.lastResp = ts;
  }
}
function pct(a) {
  a.sort((x, y) => x - y);
  const at = (p) => (a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))] * 1000).toFixed(1);
  return a.length ? `n=${a.length} p50 ${at(50)} ms, p99 ${at(99)} ms, p99.9 ${at(99.9)} ms, max ${at(100)} ms` : "n=0";
}
for (const [p, c] of [...conns].sort((a, b) => (a[1].syn ?? 0) - (b[1].syn ?? 0))) {
  console.log(`client port ${p}: SYN at ${c.syn === null ? "?" : c.syn.toFixed(3) + " s"}, ${c.reqs} requests`);
}
console.log(`guest (request in → response out): ${pct(guest)}`);
console.log(`host (response out → next request in): ${pct(host)}`);
