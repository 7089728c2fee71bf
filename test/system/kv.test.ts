// test/system/kv.test.ts — apps/kv in a real guest (q35, TCG, virtio-blk on a
// raw file, virtio-net with the kv port forwarded to loopback): 10,000 writes
// over keep-alive connections, QEMU killed with SIGKILL mid-stream, a reboot
// on the same disk, and every acknowledged key read back with its value.
import { afterAll, describe, expect, it } from "vitest";
import { createServer } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "node:http";
import { boot, stopAll, type Guest } from "../../harness/index.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-kv-"));
afterAll(async () => { await stopAll(); rmSync(dir, { recursive: true, force: true }); });

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  });
}

function call(agent: Agent, port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const r = request({ host: "127.0.0.1", port, method, path, agent, headers: body !== undefined ? { "Content-Length": Buffer.byteLength(body) } : {} }, (resp) => {
      const chunks: Buffer[] = [];
      resp.on("data", (d) => chunks.push(d));
      resp.on("end", () => res({ status: resp.statusCode!, body: Buffer.concat(chunks).toString() }));
      resp.on("error", rej);
    });
    r.on("error", rej);
    r.setTimeout(30_000, () => r.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    r.end(body);
  });
}

async function start(disk: string): Promise<{ g: Guest; port: number }> {
  const port = await freePort();
  const g = await boot({
    app: "apps/kv", machine: "q35", timeoutMs: 600_000,
    devices: { disks: [{ file: disk }] },
    qemuArgs: ["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:8080`, "-device", "virtio-net-pci,netdev=n0,romfile="],
  });
  await g.waitFor(/kv: listening on TCP port 8080/, 120_000);
  await g.waitFor(/net: dhcp: 10\.0\.2\.15/, 60_000);
  return { g, port };
}

describe("kv (q35, TCG, virtio-blk)", () => {
  it("every acknowledged write survives SIGKILL of QEMU mid-stream and a reboot", async () => {
    const disk = join(dir, "kv.img");
    writeFileSync(disk, Buffer.alloc(64 << 20));
    const first = await start(disk);
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const acked = new Map<string, string>();
    const TOTAL = 10_000;
    let next = 0;
    let killed = false;
    // 8 writers over keep-alive connections; the guest is killed while they run.
    const writer = async () => {
      while (!killed && next < TOTAL) {
        const i = next++;
        const key = `k${i % 7000}`;                      // some keys are written twice
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
    while (acked.size < TOTAL * 0.6) {
      await new Promise((r) => setTimeout(r, 200));
      if (first.g.output.match(/panic|abort/)) throw new Error(first.g.output);
      if (acked.size !== last) { last = acked.size; lastChange = Date.now(); }
      if (Date.now() - lastChange > 60_000) throw new Error(`no write acknowledged for 60 s after ${last}; guest output:\n${first.g.output}`);
    }
    killed = true;
    const exit = await first.g.stop();               // SIGKILL by PID: no flush, no goodbye
    expect(exit.status).not.toBe(0);
    await Promise.all(writers);
    agent.destroy();
    expect(acked.size).toBeGreaterThan(TOTAL * 0.5);

    const second = await start(disk);
    expect(second.g.output).toMatch(/kv: \d+ keys from \d+ records/);
    const a2 = new Agent({ keepAlive: true, maxSockets: 8 });
    const keys = [...acked.keys()];
    let missing = 0;
    const reader = async (w: number) => {
      for (let j = w; j < keys.length; j += 8) {
        const r = await call(a2, second.port, "GET", `/kv/${keys[j]}`);
        if (r.status !== 200 || r.body !== acked.get(keys[j])) missing++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => reader(w)));
    expect(missing).toBe(0);
    // Listing by prefix and further writes work on the recovered log.
    const listed = JSON.parse((await call(a2, second.port, "GET", "/kv/?prefix=k1&limit=100000")).body) as string[];
    expect(listed.length).toBe(keys.filter((k) => k.startsWith("k1")).length);
    expect((await call(a2, second.port, "PUT", "/kv/after", "reboot")).status).toBe(201);
    expect((await call(a2, second.port, "DELETE", "/kv/after")).status).toBe(204);
    expect((await call(a2, second.port, "GET", "/kv/after")).status).toBe(404);
    a2.destroy();
    await second.g.stop();
  }, 900_000);
});
