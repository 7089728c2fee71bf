// test/system/kv.test.ts — apps/kv in a real guest (q35, TCG, virtio-blk on a
// sparse raw file, virtio-net with the kv port forwarded to loopback):
//  - many small writes over keep-alive connections, QEMU killed with SIGKILL
//    mid-stream, a reboot on the same disk, every acknowledged key read back;
//  - a 64 MiB guest fills a 512 MiB disk to 90% with 1 MiB values (the first
//    30 then a GET of k1: the sequence that once trapped), reads every one
//    back, deletes half, keeps writing through a compaction, is killed during
//    it, reboots and still has every acknowledged key, byte for byte;
//  - a 32 MiB guest serves a 256 MiB store, writes guarded by kv.token.
import { afterAll, describe, expect, it } from "vitest";
import { closeSync, mkdtempSync, openSync, rmSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "node:http";
import { boot, stopAll, type Guest } from "../../harness/index.js";
import { freePort } from "./ports.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-kv-"));
afterAll(async () => { await stopAll(); rmSync(dir, { recursive: true, force: true }); });

const MiB = 1 << 20;

/** A sparse file of the given size: only what the guest writes takes room. */
function sparseDisk(name: string, bytes: number): string {
  const f = join(dir, name);
  const fd = openSync(f, "w");
  ftruncateSync(fd, bytes);
  closeSync(fd);
  return f;
}

type Reply = { status: number; body: Buffer };

function call(agent: Agent, port: number, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((res, rej) => {
    const h: Record<string, string | number> = { ...headers };
    if (body !== undefined) h["Content-Length"] = Buffer.byteLength(body);
    const r = request({ host: "127.0.0.1", port, method, path, agent, headers: h }, (resp) => {
      const chunks: Buffer[] = [];
      resp.on("data", (d) => chunks.push(d));
      resp.on("end", () => res({ status: resp.statusCode!, body: Buffer.concat(chunks) }));
      resp.on("error", rej);
      resp.on("aborted", () => rej(new Error(`${method} ${path}: response cut short`)));
    });
    r.on("error", rej);
    r.setTimeout(60_000, () => r.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    r.end(body);
  });
}

async function start(disk: string, memory?: string, cmdline?: string): Promise<{ g: Guest; port: number }> {
  const port = await freePort();
  const g = await boot({
    app: "apps/kv", machine: "q35", timeoutMs: 900_000, memory, cmdline,
    devices: { disks: [{ file: disk }] },
    qemuArgs: ["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:8080`, "-device", "virtio-net-pci,netdev=n0,romfile="],
  });
  await g.waitFor(/kv: listening on TCP port 8080/, 300_000);
  await g.waitFor(/net: dhcp: 10\.0\.2\.15/, 60_000);
  return { g, port };
}

/** The 1 MiB value stored under key: reproducible from the key, different for each. */
function valueFor(key: string, bytes = MiB): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  let x = 2166136261;
  for (let i = 0; i < key.length; i++) x = Math.imul(x ^ key.charCodeAt(i), 16777619) >>> 0;
  for (let i = 0; i < bytes; i += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

/** Runs f over items with n at a time. */
async function pool<T>(items: T[], n: number, f: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => { while (next < items.length) await f(items[next++]); }));
}

function failIfCrashed(g: Guest) {
  if (/panic|wasm trap|abort/.test(g.output)) throw new Error(`guest failed:\n${g.output.slice(-3000)}`);
}

describe("kv (q35, TCG, virtio-blk)", () => {
  it("every acknowledged write survives SIGKILL of QEMU mid-stream and a reboot", async () => {
    const disk = sparseDisk("small.img", 64 * MiB);
    const first = await start(disk);
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const acked = new Map<string, string>();
    const TOTAL = 4000;
    let next = 0;
    let killed = false;
    // 8 writers over keep-alive connections; the guest is killed while they run.
    const writer = async () => {
      while (!killed && next < TOTAL) {
        const i = next++;
        const key = `k${i % 3000}`;                      // some keys are written twice
        const value = `v${i}-${"x".repeat(i % 50)}`;
        try {
          const r = await call(agent, first.port, "PUT", `/kv/${key}`, value);
          if (r.status === 201 || r.status === 204) acked.set(key, value);
          else throw new Error(`PUT ${key}: ${r.status} ${r.body}`);
        } catch (e) {
          if (!killed) throw e;
        }
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    // Kill once a good share is acknowledged: in the middle of the stream.
    let last = 0, lastChange = Date.now();
    while (acked.size < 2000) {
      await new Promise((r) => setTimeout(r, 200));
      failIfCrashed(first.g);
      if (acked.size !== last) { last = acked.size; lastChange = Date.now(); }
      if (Date.now() - lastChange > 60_000) throw new Error(`no write acknowledged for 60 s after ${last}; guest output:\n${first.g.output}`);
    }
    killed = true;
    const exit = await first.g.stop();               // SIGKILL by PID: no flush, no goodbye
    expect(exit.status).not.toBe(0);
    await Promise.all(writers);
    agent.destroy();

    const second = await start(disk);
    expect(second.g.output).toMatch(/kv: \d+ keys from \d+ records/);
    const a2 = new Agent({ keepAlive: true, maxSockets: 8 });
    const keys = [...acked.keys()];
    let missing = 0;
    await pool(keys, 8, async (key) => {
      const r = await call(a2, second.port, "GET", `/kv/${key}`);
      if (r.status !== 200 || r.body.toString() !== acked.get(key)) missing++;
    });
    expect(missing).toBe(0);
    // Listing by prefix and further writes work on the recovered log.
    const listed = JSON.parse((await call(a2, second.port, "GET", "/kv/?prefix=k1&limit=100000")).body.toString()) as string[];
    expect(listed.length).toBe(keys.filter((k) => k.startsWith("k1")).length);
    expect((await call(a2, second.port, "PUT", "/kv/after", "reboot")).status).toBe(201);
    expect((await call(a2, second.port, "DELETE", "/kv/after")).status).toBe(204);
    expect((await call(a2, second.port, "GET", "/kv/after")).status).toBe(404);
    a2.destroy();
    await second.g.stop();
  }, 900_000);

  it("64 MiB guest, 512 MiB disk: 30 x 1 MiB then GET k1; filled to 90%, read back, half deleted, killed while compacting, nothing acknowledged lost", async () => {
    const disk = sparseDisk("big.img", 512 * MiB);
    const first = await start(disk);
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    const put = async (port: number, key: string) => {
      const r = await call(agent, port, "PUT", `/kv/${key}`, valueFor(key));
      if (r.status !== 201 && r.status !== 204) throw new Error(`PUT ${key}: ${r.status} ${r.body}\n${first.g.output.slice(-2000)}`);
    };
    // The sequence that used to end the guest: 30 sequential 1 MiB PUTs, then GET k1.
    for (let i = 0; i < 30; i++) await put(first.port, `k${i}`);
    const k1 = await call(agent, first.port, "GET", "/kv/k1");
    expect(k1.status).toBe(200);
    expect(k1.body.equals(valueFor("k1"))).toBe(true);
    // On to 90% of the disk.
    const N = Math.floor((512 * 0.9) / 1.0005);       // a record is 1 MiB plus its header sector
    const keys = Array.from({ length: N }, (_, i) => `k${i}`);
    await pool(keys.slice(30), 2, (k) => put(first.port, k));
    failIfCrashed(first.g);
    // Every value back, byte for byte (streamed from disk).
    await pool(keys, 2, async (k) => {
      const r = await call(agent, first.port, "GET", `/kv/${k}`);
      expect(r.status, k).toBe(200);
      expect(r.body.equals(valueFor(k)), `${k} intact`).toBe(true);
    });
    // One more than fits would need compaction, and there is nothing dead yet: 507, not a crash.
    const full = await call(agent, first.port, "PUT", "/kv/overflow", valueFor("overflow"));
    expect([201, 507]).toContain(full.status);
    const acked = new Set(keys);
    if (full.status === 201) acked.add("overflow");
    // Half deleted.
    const deleted = keys.filter((_, i) => i % 2 === 0);
    await pool(deleted, 2, async (k) => {
      expect((await call(agent, first.port, "DELETE", `/kv/${k}`)).status).toBe(204);
      acked.delete(k);
    });
    // Keep writing: compaction starts (the log is nearly full and half dead);
    // the guest is killed while it runs.
    let j = 0;
    let killed = false;
    const writer = async () => {
      while (!killed) {
        const key = `n${j++}`;
        try {
          await put(first.port, key);
          acked.add(key);
        } catch (e) {
          if (!killed) throw e;
        }
      }
    };
    const writers = [writer(), writer()];
    await first.g.waitFor(/kv: compaction 1 started/, 300_000);
    const startedAt = j;
    while (j < startedAt + 6 && !/kv: compaction 1 done/.test(first.g.output)) await new Promise((r) => setTimeout(r, 50));
    failIfCrashed(first.g);
    killed = true;
    const duringCompaction = !/kv: compaction 1 done/.test(first.g.output);
    await first.g.stop();                             // SIGKILL
    await Promise.all(writers);
    agent.destroy();
    expect(duringCompaction, "killed while compaction 1 was running").toBe(true);
    expect(first.g.output).not.toMatch(/compaction failed/);

    const second = await start(disk);
    failIfCrashed(second.g);
    const a2 = new Agent({ keepAlive: true, maxSockets: 2 });
    await pool([...acked], 2, async (k) => {
      const r = await call(a2, second.port, "GET", `/kv/${k}`);
      expect(r.status, `${k} after the reboot`).toBe(200);
      expect(r.body.equals(valueFor(k)), `${k} intact after the reboot`).toBe(true);
    });
    for (const k of deleted.slice(0, 20)) expect((await call(a2, second.port, "GET", `/kv/${k}`)).status).toBe(404);
    a2.destroy();
    await second.g.stop();
  }, 1_800_000);

  it("32 MiB guest serves a 256 MiB store; kv.token guards PUT and DELETE", async () => {
    const disk = sparseDisk("token.img", 256 * MiB);
    const token = "s3cret-kv-token";
    const { g, port } = await start(disk, "32M", `kv.token=${token}`);
    expect(g.output).toMatch(/kv: writes need a bearer token/);
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    const auth = { Authorization: `Bearer ${token}` };
    // Refused without the token, with a wrong one, a prefix of it, or one longer.
    for (const h of [{} as Record<string, string>, { Authorization: "Bearer wrong" }, { Authorization: `Bearer ${token.slice(0, -1)}` }, { Authorization: `Bearer ${token}x` }, { Authorization: token }]) {
      const r = await call(agent, port, "PUT", "/kv/guarded", "v", h);
      expect(r.status).toBe(401);
      expect(r.body.toString()).not.toContain(token);
    }
    expect((await call(agent, port, "GET", "/kv/guarded")).status).toBe(404);
    expect((await call(agent, port, "PUT", "/kv/guarded", "v", auth)).status).toBe(201);
    expect((await call(agent, port, "GET", "/kv/guarded")).body.toString()).toBe("v");   // reads need no token
    expect((await call(agent, port, "DELETE", "/kv/guarded")).status).toBe(401);
    expect((await call(agent, port, "GET", "/kv/guarded")).status).toBe(200);
    expect((await call(agent, port, "DELETE", "/kv/guarded", undefined, auth)).status).toBe(204);
    // 200 values of 1 MiB on 256 MiB of disk in a 32 MiB guest, all read back.
    const keys = Array.from({ length: 200 }, (_, i) => `big${i}`);
    await pool(keys, 2, async (k) => {
      const r = await call(agent, port, "PUT", `/kv/${k}`, valueFor(k), auth);
      expect(r.status, `PUT ${k}`).toBe(201);
    });
    await pool(keys, 2, async (k) => {
      const r = await call(agent, port, "GET", `/kv/${k}`);
      expect(r.status).toBe(200);
      expect(r.body.equals(valueFor(k)), `${k} intact`).toBe(true);
    });
    failIfCrashed(g);
    agent.destroy();
    await g.stop();
  }, 900_000);
});
