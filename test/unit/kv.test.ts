// The kv app's storage engine (apps/kv/log.ts) as Wasm in Node over an
// in-memory disk with a volatile write cache: formatting, the index and
// prefix listing, limits, recovery of every acknowledged write after crashes
// that tear the record in flight, corruption in the middle of the log,
// foreign disks, I/O errors.
import { beforeAll, describe, expect, it } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel, KernelModule } from "../platform/wasm.js";

type E = {
  newDisk(n: number): void; open(format: number, seed: number): number; problem(): number;
  put(k: number, v: number): number; putBin(k: number, v: number): number; get(k: number): number; getLength(k: number): number;
  getCrc(k: number): number; del(k: number): number; list(p: number, limit: number): number; count(): number;
  tail(): bigint; nextSeq(): bigint; recovered(): bigint; tornTail(): number; isOpen(): number;
  crash(keep: number, torn: number): void; pendingWrites(): number; crashAtFlush(n: number, keep: number, torn: number): void;
  failWriteIn(n: number): void; diskFlushes(): number; poke(off: number, v: number): void; peek(off: number): number;
  __new(n: number, id: number): number; __pin(p: number): number; __unpin(p: number): void; __collect(): void;
};

const OK = 0, ERR_IO = -1, ERR_FULL = -2, ERR_TOO_LARGE = -3, ERR_BAD_KEY = -4, ERR_NOT_FOUND = -5, ERR_NOT_OURS = -6, ERR_CLOSED = -7;
const LOG_START = 4096;

let k: KernelModule<E>;
beforeAll(async () => {
  k = await loadKernel<E>("test/unit/wasm/kv.ts", new FakeHost());
});

const pinned: number[] = [];
const s = (t: string) => {
  const buf = Buffer.from(t, "utf16le");
  const p = k.exports.__pin(k.exports.__new(buf.length, 2));
  new Uint8Array(k.exports.memory.buffer).set(buf, p);
  pinned.push(p);
  return p;
};
function release() { while (pinned.length) k.exports.__unpin(pinned.pop()!); }
function call<T>(f: () => T): T {
  const r = k.run(f);
  release();
  expect(r.exit, "guest aborted").toBeUndefined();
  return r.value as T;
}
const open = (format = false, seed = 0x1234) => call(() => k.exports.open(format ? 1 : 0, seed));
const put = (key: string, v: string) => call(() => k.exports.put(s(key), s(v)));
const get = (key: string): string | null => {
  const p = call(() => k.exports.get(s(key)));
  return p ? k.str(p) : null;
};
const del = (key: string) => call(() => k.exports.del(s(key)));
const list = (prefix: string, limit = 1000) => { const t = k.str(call(() => k.exports.list(s(prefix), limit))); return t ? t.split("\n") : []; };

describe("format and basic operations", () => {
  it("formats a blank disk and serves put/get/delete", () => {
    k.exports.newDisk(1 << 20);
    expect(open()).toBe(OK);
    // Superblock magic "SKIFFKV1".
    expect(Buffer.from([0, 1, 2, 3, 4, 5, 6, 7].map((i) => k.exports.peek(i))).toString("latin1")).toBe("SKIFFKV1");
    expect(put("a", "1")).toBe(OK);
    expect(put("b", "two")).toBe(OK);
    expect(put("a", "one")).toBe(OK);
    expect(get("a")).toBe("one");
    expect(get("b")).toBe("two");
    expect(get("c")).toBeNull();
    expect(del("b")).toBe(OK);
    expect(del("b")).toBe(ERR_NOT_FOUND);
    expect(get("b")).toBeNull();
    expect(k.exports.count()).toBe(1);
    // Every acknowledged write was flushed: nothing pending.
    expect(k.exports.pendingWrites()).toBe(0);
  });

  it("recovers the same state after a clean reopen", () => {
    expect(open()).toBe(OK);
    expect(get("a")).toBe("one");
    expect(get("b")).toBeNull();
    expect(Number(k.exports.recovered())).toBe(4);
    expect(k.exports.tornTail()).toBe(0);
    expect(Number(k.exports.nextSeq())).toBe(5);
    expect(put("c", "3")).toBe(OK);
    expect(open()).toBe(OK);
    expect(get("c")).toBe("3");
    expect(Number(k.exports.recovered())).toBe(5);
  });

  it("lists keys by prefix in order, with a limit", () => {
    k.exports.newDisk(1 << 20);
    expect(open()).toBe(OK);
    for (const key of ["user/2", "user/10", "user/1", "users", "admin", "user/ü"]) expect(put(key, key)).toBe(OK);
    expect(list("user/")).toEqual(["user/1", "user/10", "user/2", "user/ü"]);
    expect(list("user")).toEqual(["user/1", "user/10", "user/2", "user/ü", "users"]);
    expect(list("")).toHaveLength(6);
    expect(list("user/", 2)).toEqual(["user/1", "user/10"]);
    expect(list("zzz")).toEqual([]);
    expect(open()).toBe(OK);
    expect(get("user/ü")).toBe("user/ü");
  });

  it("keeps binary values byte for byte, including empty ones", () => {
    k.exports.newDisk(4 << 20);
    expect(open()).toBe(OK);
    const big = Buffer.alloc(300000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
    const p = k.bytesIn(big);
    expect(call(() => k.exports.putBin(s("big"), p))).toBe(OK);
    k.exports.__unpin(p);
    expect(put("empty", "")).toBe(OK);
    expect(open()).toBe(OK);
    expect(call(() => k.exports.getLength(s("big")))).toBe(big.length);
    const crc = call(() => k.exports.getCrc(s("big"))) >>> 0;
    expect(crc).toBe(crc32js(big));
    expect(get("empty")).toBe("");
  });

  it("refuses empty and oversized keys and values", () => {
    k.exports.newDisk(4 << 20);
    expect(open()).toBe(OK);
    expect(put("", "x")).toBe(ERR_BAD_KEY);
    expect(put("k".repeat(1025), "x")).toBe(ERR_TOO_LARGE);
    expect(put("k".repeat(1024), "x")).toBe(OK);
    const p = k.bytesIn(Buffer.alloc((1 << 20) + 1));
    expect(call(() => k.exports.putBin(s("huge"), p))).toBe(ERR_TOO_LARGE);
    k.exports.__unpin(p);
    expect(k.exports.count()).toBe(1);
  });

  it("says the log is full rather than writing past the end", () => {
    k.exports.newDisk(16384);
    expect(open()).toBe(OK);
    let n = 0;
    let r = OK;
    while ((r = put(`key${n}`, "v".repeat(100))) === OK) n++;
    expect(r).toBe(ERR_FULL);
    expect(n).toBeGreaterThan(50);
    expect(open()).toBe(OK);
    expect(k.exports.count()).toBe(n);
    expect(get(`key${n - 1}`)).toBe("v".repeat(100));
  });
});

describe("foreign disks", () => {
  it("will not format a disk that holds something else unless told to", () => {
    k.exports.newDisk(1 << 20);
    k.exports.poke(100, 0x42);
    expect(open()).toBe(ERR_NOT_OURS);
    expect(k.str(call(() => k.exports.problem()))).toMatch(/kv.format=1/);
    expect(put("a", "b")).toBe(ERR_CLOSED);
    expect(open(true)).toBe(OK);
    expect(put("a", "b")).toBe(OK);
    expect(open()).toBe(OK);
    expect(get("a")).toBe("b");
  });

  it("does not read records of an earlier format of the same disk", () => {
    k.exports.newDisk(1 << 20);
    expect(open(false, 1)).toBe(OK);
    for (let i = 0; i < 20; i++) expect(put(`old${i}`, "x")).toBe(OK);
    expect(open(true, 2)).toBe(OK);
    expect(k.exports.count()).toBe(0);
    expect(open()).toBe(OK);
    expect(k.exports.count()).toBe(0);
    expect(Number(k.exports.recovered())).toBe(0);
  });
});

describe("crash recovery", () => {
  it("keeps every acknowledged write when the write in flight is torn", () => {
    k.exports.newDisk(1 << 20);
    expect(open()).toBe(OK);
    for (let i = 0; i < 30; i++) expect(put(`k${i}`, `value ${i}`)).toBe(OK);
    // The next put's record write reaches the disk only in part; its flush never returns.
    k.exports.crashAtFlush(0, 0, 40);
    expect(put("k30", "never acknowledged, and long enough to span a few bytes")).toBe(ERR_IO);
    expect(k.exports.isOpen()).toBe(0);
    expect(put("k31", "x")).toBe(ERR_CLOSED);
    expect(open()).toBe(OK);
    expect(k.exports.tornTail()).toBe(1);
    for (let i = 0; i < 30; i++) expect(get(`k${i}`)).toBe(`value ${i}`);
    expect(get("k30")).toBeNull();
    // The log goes on from the last intact record, and survives another reboot.
    expect(put("after", "crash")).toBe(OK);
    expect(open()).toBe(OK);
    expect(k.exports.tornTail()).toBe(0);
    expect(get("after")).toBe("crash");
    expect(k.exports.count()).toBe(31);
  });

  it("a record written whole but not acknowledged may survive; nothing acknowledged is lost", () => {
    k.exports.newDisk(1 << 20);
    expect(open()).toBe(OK);
    expect(put("a", "1")).toBe(OK);
    k.exports.crashAtFlush(0, 1, 0);
    expect(put("b", "2")).toBe(ERR_IO);
    expect(open()).toBe(OK);
    expect(get("a")).toBe("1");
    expect(["2", null]).toContain(get("b"));
  });

  it("survives random crashes: 40 rounds of writes, deletes and torn tails", () => {
    k.exports.newDisk(2 << 20);
    expect(open()).toBe(OK);
    let seed = 12345;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
    const acked = new Map<string, string>();
    for (let round = 0; round < 40; round++) {
      const ops = 1 + rnd(15);
      for (let i = 0; i < ops; i++) {
        const key = `key${rnd(40)}`;
        if (rnd(5) === 0 && acked.has(key)) {
          expect(del(key)).toBe(OK);
          acked.delete(key);
        } else {
          const v = `r${round}i${i}` + "z".repeat(rnd(900));
          expect(put(key, v)).toBe(OK);
          acked.set(key, v);
        }
      }
      // The next write crashes: torn anywhere from 0 bytes to the whole record.
      k.exports.crashAtFlush(0, 0, rnd(1200));
      const key = `key${rnd(40)}`;
      expect(put(key, "u".repeat(rnd(700)))).toBe(ERR_IO);
      expect(open()).toBe(OK);
      const got = get(key);
      if (got !== null && got !== acked.get(key)) acked.set(key, got);   // survived whole: now it is the value
      for (const [kk, v] of acked) expect(get(kk), `round ${round} ${kk}`).toBe(v);
      expect(k.exports.count()).toBe(acked.size);
    }
  });

  it("stops at a corrupted record in the middle and says so", () => {
    k.exports.newDisk(1 << 20);
    expect(open()).toBe(OK);
    const offs: number[] = [];
    for (let i = 0; i < 10; i++) { offs.push(Number(k.exports.tail())); expect(put(`k${i}`, `v${i}`)).toBe(OK); }
    // Flip a byte inside record 6's value.
    k.exports.poke(offs[6] + 24 + 2 + 1, k.exports.peek(offs[6] + 24 + 2 + 1) ^ 0xff);
    expect(open()).toBe(OK);
    expect(k.exports.tornTail()).toBe(1);
    expect(Number(k.exports.recovered())).toBe(6);
    expect(get("k5")).toBe("v5");
    expect(get("k6")).toBeNull();
    expect(get("k9")).toBeNull();
    expect(Number(k.exports.tail())).toBe(offs[6]);
  });

  it("turns read-only after a write error instead of guessing", () => {
    k.exports.newDisk(1 << 20);
    expect(open()).toBe(OK);
    expect(put("a", "1")).toBe(OK);
    k.exports.failWriteIn(0);
    expect(put("b", "2")).toBe(ERR_IO);
    k.exports.failWriteIn(-1);
    expect(put("c", "3")).toBe(ERR_CLOSED);
    expect(get("a")).toBe("1");
    expect(open()).toBe(OK);
    expect(put("c", "3")).toBe(OK);
  });

  it("a fuzzed disk never aborts the engine", () => {
    let seed = 99;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
    for (let round = 0; round < 20; round++) {
      k.exports.newDisk(256 << 10);
      expect(open()).toBe(OK);
      for (let i = 0; i < 20; i++) expect(put(`k${i}`, "v".repeat(rnd(300)))).toBe(OK);
      const end = Number(k.exports.tail());
      for (let i = 0; i < 8; i++) k.exports.poke(LOG_START + rnd(end - LOG_START + 600), rnd(256));
      const r = open();
      expect([OK]).toContain(r);
      expect(k.exports.count()).toBeLessThanOrEqual(20);
      expect(put("again", "x")).toBe(OK);
    }
  });
});

function crc32js(b: Uint8Array): number {
  let c = ~0;
  for (const byte of b) {
    c ^= byte;
    for (let i = 0; i < 8; i++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}
