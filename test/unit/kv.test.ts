// The kv app's storage engine (apps/kv/log.ts) as Wasm in Node over an
// in-memory disk with a volatile write cache: formatting, the index and
// prefix listing, limits, recovery of every acknowledged write after crashes
// that tear the record in flight, corruption in the middle of the log,
// foreign disks, I/O errors; values read from disk in pieces; the ring
// wrapping and compaction (live records moved, dead ones dropped, 507 only
// when live data fills the disk), and a crash at every write and flush of a
// compaction, with every acknowledged write found after the reboot.
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
  crashAtOp(n: number, keep: number, torn: number): void; diskOps(): number; diskDead(): number; compactStep(limit: bigint): number;
  wantsCompaction(): number; usedBytes(): bigint; liveBytes(): bigint; freeBytes(): bigint; capacity(): bigint;
  headV(): bigint; tailV(): bigint; maxValue(): number; steps(): bigint; bytesMoved(): bigint;
  diskReads(): number; diskWrites(): number; getInPieces(k: number, piece: number, churn: number, replace?: number): number;
  tokenOk(a: number, b: number): number; crcPart(a: number, from: number, len: number, crc: number): number;
  newCache(limit: number, maxValue: number): void; cachedGet(k: number): number; cacheHits(): bigint; cacheMisses(): bigint;
  cacheBytes(): bigint; cacheCount(): number; meterTotal(): bigint;
  __new(n: number, id: number): number; __pin(p: number): number; __unpin(p: number): void; __collect(): void;
};

const OK = 0, ERR_IO = -1, ERR_FULL = -2, ERR_TOO_LARGE = -3, ERR_BAD_KEY = -4, ERR_NOT_FOUND = -5, ERR_NOT_OURS = -6, ERR_CLOSED = -7;
const AREA_START = 8192, REC_HEADER = 32;

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
    // Superblock magic "SKIFFKV2".
    expect(Buffer.from([0, 1, 2, 3, 4, 5, 6, 7].map((i) => k.exports.peek(i))).toString("latin1")).toBe("SKIFFKV2");
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

  it("computes CRC-32 eight bytes at a time: every length and alignment, and continued in two parts", () => {
    const data = Buffer.alloc(80);
    for (let i = 0; i < data.length; i++) data[i] = (i * 151 + 17) & 0xff;
    const p = k.bytesIn(data);
    for (let from = 0; from < 8; from++) {
      for (let len = 0; len <= 64; len++) {
        const want = crc32js(data.subarray(from, from + len));
        expect(call(() => k.exports.crcPart(p, from, len, 0)) >>> 0, `from ${from} len ${len}`).toBe(want);
        const cut = len >> 1;
        const first = call(() => k.exports.crcPart(p, from, cut, 0)) >>> 0;
        expect(call(() => k.exports.crcPart(p, from + cut, len - cut, first)) >>> 0, `from ${from} len ${len} in two`).toBe(want);
      }
    }
    k.exports.__unpin(p);
    // The check value of the CRC-32 catalogue: "123456789" -> cbf43926.
    const q = k.bytesIn(Buffer.from("123456789"));
    expect(call(() => k.exports.crcPart(q, 0, 9, 0)) >>> 0).toBe(0xcbf43926);
    k.exports.__unpin(q);
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

  it("says the log is full (507) only when live data fills it, never writing past the end", () => {
    k.exports.newDisk(128 << 10);
    expect(open()).toBe(OK);
    let n = 0;
    let r = OK;
    while ((r = put(`key${n}`, "v".repeat(100))) === OK) n++;
    expect(r).toBe(ERR_FULL);
    expect(n).toBeGreaterThan(100);
    expect(open()).toBe(OK);
    expect(k.exports.count()).toBe(n);
    expect(get(`key${n - 1}`)).toBe("v".repeat(100));
    // Deleting makes room again: compaction reclaims it for the next writes.
    for (let i = 0; i < n; i += 2) expect(del(`key${i}`)).toBe(OK);
    let more = 0;
    while (put(`more${more}`, "w".repeat(100)) === OK) more++;
    expect(more).toBeGreaterThan(n / 4);
    expect(Number(k.exports.steps())).toBeGreaterThan(0);
    expect(open()).toBe(OK);
    for (let i = 1; i < n; i += 2) expect(get(`key${i}`)).toBe("v".repeat(100));
    for (let i = 0; i < more; i++) expect(get(`more${i}`)).toBe("w".repeat(100));
  });

  it("limits values to an eighth of a small disk", () => {
    k.exports.newDisk(1 << 20);
    expect(open()).toBe(OK);
    const max = k.exports.maxValue();
    expect(max).toBeGreaterThan(100000);
    expect(max).toBeLessThan(1 << 17);
    const p = k.bytesIn(Buffer.alloc(max + 1));
    expect(call(() => k.exports.putBin(s("big"), p))).toBe(ERR_TOO_LARGE);
    k.exports.__unpin(p);
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
    const at = AREA_START + offs[6] + REC_HEADER + 2 + 1;
    k.exports.poke(at, k.exports.peek(at) ^ 0xff);
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
      for (let i = 0; i < 8; i++) k.exports.poke(AREA_START + rnd(end + 600), rnd(256));
      if (round % 4 === 0) for (let i = 0; i < 4; i++) k.exports.poke(rnd(8192), rnd(256));   // the superblocks too
      const r = open();
      expect([OK, ERR_NOT_OURS]).toContain(r);
      if (r !== OK) { expect(open(true)).toBe(OK); continue; }
      expect(k.exports.count()).toBeLessThanOrEqual(20);
      expect(put("again", "x")).toBe(OK);
    }
  });
});

describe("values on disk", () => {
  it("reads a value in pieces, as a streamed GET does, and memory holds only its place", () => {
    k.exports.newDisk(4 << 20);
    expect(open()).toBe(OK);
    const v = Array.from({ length: 5000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
    expect(put("long", v)).toBe(OK);
    const before = k.exports.diskReads();
    for (const piece of [1, 7, 512, 4096, 100000]) expect(k.str(call(() => k.exports.getInPieces(s("long"), piece, 0)))).toBe(v);
    expect(k.exports.diskReads()).toBeGreaterThan(before);   // read from disk, not from memory
  });

  it("a value being read stays readable while compaction moves it, and is refused once overwritten", () => {
    k.exports.newDisk(256 << 10);
    expect(open()).toBe(OK);
    const v = "x".repeat(3000);
    expect(put("a", v)).toBe(OK);
    // Moderate churn between pieces: "a" gets moved by compaction but stays intact.
    expect(k.str(call(() => k.exports.getInPieces(s("a"), 100, 2000)))).toBe(v);
    expect(get("a")).toBe(v);
    // Read while replaced: the old value keeps coming from its old place while
    // that is intact, and the read is refused (KV_ERR_GONE) once the head laps it.
    expect(k.str(call(() => k.exports.getInPieces(s("a"), 1000, 100, 1)))).toBe(v);
    expect(put("a", v)).toBe(OK);
    expect(k.str(call(() => k.exports.getInPieces(s("a"), 10, 8000, 1)))).toBe("!-8");
  });
});

describe("the ring and compaction", () => {
  it("wraps around many times under overwrites, never reporting full, and recovers after each lap", () => {
    k.exports.newDisk(256 << 10);
    expect(open()).toBe(OK);
    const cap = Number(k.exports.capacity());
    const acked = new Map<string, string>();
    let written = 0, i = 0;
    while (written < cap * 6) {
      const key = `k${i % 24}`;
      const v = `${i}:` + "y".repeat((i * 37) % 2500);
      expect(put(key, v)).toBe(OK);
      acked.set(key, v);
      written += v.length + 64;
      if (i % 97 === 0) { expect(del(key)).toBe(OK); acked.delete(key); }
      if (i % 150 === 0) {
        expect(open()).toBe(OK);
        expect(k.exports.tornTail()).toBe(0);
        for (const [kk, vv] of acked) expect(get(kk)).toBe(vv);
      }
      i++;
    }
    expect(Number(k.exports.headV())).toBeGreaterThan(cap * 3);   // laps
    expect(open()).toBe(OK);
    expect(k.exports.count()).toBe(acked.size);
    for (const [kk, vv] of acked) expect(get(kk)).toBe(vv);
    expect(Number(k.exports.usedBytes())).toBeLessThan(cap);
  });

  it("a background step moves live records, drops dead ones and tombstones, and frees their room", () => {
    k.exports.newDisk(512 << 10);
    expect(open()).toBe(OK);
    let n = 0, r = OK;
    while ((r = put(`k${n}`, "z".repeat(3000))) === OK) n++;
    expect(r).toBe(ERR_FULL);
    expect(k.exports.wantsCompaction()).toBe(0);      // nothing dead: nothing to win
    for (let i = 0; i < n; i += 2) expect(del(`k${i}`)).toBe(OK);
    expect(k.exports.wantsCompaction()).toBe(1);
    const used = Number(k.exports.usedBytes());
    const live = Number(k.exports.liveBytes());
    while (call(() => k.exports.wantsCompaction())) expect(call(() => k.exports.compactStep(0n))).toBe(OK);
    expect(Number(k.exports.usedBytes())).toBeLessThan(used);
    expect(Number(k.exports.liveBytes())).toBe(live);
    expect(Number(k.exports.bytesMoved())).toBeGreaterThan(0);
    expect(open()).toBe(OK);
    for (let i = 0; i < n; i++) expect(get(`k${i}`)).toBe(i % 2 ? "z".repeat(3000) : null);
    // Deleted keys stay deleted even though their tombstones were dropped.
    expect(list("k").length).toBe(Math.floor(n / 2));
  });
});

describe("crash at every step of compaction", () => {
  /** A log that needs compaction for its next write: filled, half deleted,
   *  some overwritten, near the end of the ring so the copies wrap. */
  function setup(): Map<string, string> {
    k.exports.newDisk(192 << 10);
    expect(open()).toBe(OK);
    const acked = new Map<string, string>();
    // Cold keys, never rewritten: compaction has to move them.
    for (let i = 0; i < 6; i++) { const v = `cold${i}-` + "c".repeat(2000); expect(put(`c${i}`, v)).toBe(OK); acked.set(`c${i}`, v); }
    for (let i = 0; i < 60; i++) {
      const key = `k${i % 16}`;
      const v = `${i}-` + "q".repeat(1500 + (i * 131) % 2000);
      expect(put(key, v)).toBe(OK);
      acked.set(key, v);
      const dk = `k${(i * 7) % 16}`;
      if (i % 5 === 3 && acked.has(dk)) { expect(del(dk)).toBe(OK); acked.delete(dk); }
    }
    expect(Number(k.exports.headV())).toBeGreaterThan(Number(k.exports.capacity()));   // wrapped
    return acked;
  }

  it("finds every acknowledged write after a kill at each write and flush, pending writes kept, torn or lost", () => {
    let crashes = 0;
    // keep: how many of the writes since the last flush got to the disk (-1 all,
    // -2 only the last one: a disk that reorders), torn: bytes of the next.
    for (const [keep, torn] of [[0, 0], [0, 300], [1, 700], [-1, 0], [-2, 0]] as const) {
      for (let op = 0; ; op++) {
        const acked = setup();
        // The workload that compacts: writes that need room, then an explicit step.
        const steps0 = Number(k.exports.steps());
        const moved0 = Number(k.exports.bytesMoved());
        k.exports.crashAtOp(op, keep, torn);
        let died = false;
        for (let j = 0; j < 8 && !died; j++) {
          const key = `n${j}`;
          const v = `new${j}-` + "w".repeat(2500);
          const r = put(key, v);
          if (r === OK) acked.set(key, v);
          else { expect(r).toBe(ERR_IO); died = true; }
        }
        for (let st = 0; st < 3 && !died; st++) {
          const r = call(() => k.exports.compactStep(16384n));   // small steps: several superblock updates
          if (r !== OK) { expect(r).toBe(ERR_IO); died = true; }
        }
        if (!died) {
          // The whole workload ran: it compacted, and every op of it was a crash point.
          k.exports.crashAtOp(-1, 0, 0);
          expect(op).toBeGreaterThan(15);
          expect(Number(k.exports.steps()) - steps0).toBeGreaterThanOrEqual(3);
          expect(Number(k.exports.bytesMoved()) - moved0).toBeGreaterThan(0);     // live records were moved
          break;
        }
        expect(k.exports.diskDead()).toBe(1);
        crashes++;
        // Reboot: every acknowledged write is there; the one in flight may or may not be.
        expect(open()).toBe(OK);
        for (const [kk, vv] of acked) expect(get(kk), `keep ${keep} torn ${torn} op ${op}: ${kk}`).toBe(vv);
        // And the recovered log takes writes and survives another reboot.
        expect(put("after", "crash"), `keep ${keep} torn ${torn} op ${op}`).toBe(OK);
        expect(open()).toBe(OK);
        expect(get("after")).toBe("crash");
        for (const [kk, vv] of acked) expect(get(kk)).toBe(vv);
        expect(k.exports.tornTail()).toBe(0);
      }
    }
    expect(crashes).toBeGreaterThan(40);
  });
});

describe("the bearer token check", () => {
  it("accepts only the exact token", () => {
    const ok = (a: string, b: string) => call(() => k.exports.tokenOk(s(a), s(b)));
    expect(ok("secret-token", "secret-token")).toBe(1);
    expect(ok("secret-tokeN", "secret-token")).toBe(0);
    expect(ok("secret-toke", "secret-token")).toBe(0);
    expect(ok("secret-tokenn", "secret-token")).toBe(0);
    expect(ok("", "secret-token")).toBe(0);
    expect(ok("secret-token" + "secret-token", "secret-token")).toBe(0);
    expect(ok("s", "s")).toBe(1);
  });
});

describe("kernel/lib/http streamed bodies (Response.stream), as GET uses them", () => {
  type H = { setup(): void; feed(b: number): number; takeSome(n: number): number; pending(): number; shouldClose(): number;
    sourceReads(): number; sourceMaxAsked(): number; memory: WebAssembly.Memory; __pin(p: number): number; __unpin(p: number): void; __new(n: number, id: number): number };
  let h: KernelModule<H>;
  beforeAll(async () => { h = await loadKernel<H>("test/unit/wasm/kvhttp.ts", new FakeHost()); });
  const feed = (t: string) => {
    const p = h.bytesIn(Buffer.from(t, "latin1"));
    const r = h.run(() => h.exports.feed(p));   // 1 s after the connection opened
    h.exports.__unpin(p);
    expect(r.exit).toBeUndefined();
    return r.value as number;
  };
  const takeAll = (piece: number) => {
    const parts: Buffer[] = [];
    for (;;) {
      const r = h.run(() => h.exports.takeSome(piece));
      expect(r.exit).toBeUndefined();
      const ptr = r.value as number;
      const b = Buffer.from(h.bytesOut(ptr, new DataView(h.exports.memory.buffer).getUint32(ptr - 4, true)));
      if (b.length === 0) break;
      parts.push(b);
    }
    return Buffer.concat(parts).toString("latin1");
  };
  const pattern = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");

  it("sends Content-Length and the body in pieces, holding at most about one piece, then serves the next request", () => {
    h.exports.setup();
    const n = 1 << 20;
    feed(`GET /stream/${n} HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n`);
    expect(h.exports.pending()).toBeLessThanOrEqual(65536 + 200);
    const out = takeAll(10000);
    const [head, ...rest] = out.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toContain(`Content-Length: ${n}`);
    expect(head).not.toMatch(/chunked/i);
    const body = rest.join("\r\n\r\n");
    expect(body.slice(0, n)).toBe(pattern(n));
    expect(body.slice(n)).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*hello$/);   // the pipelined request, after the stream
    expect(h.exports.sourceMaxAsked()).toBeLessThanOrEqual(65536);
    expect(h.exports.sourceReads()).toBeGreaterThanOrEqual(16);
  });

  it("a source that fails closes the connection short of its length", () => {
    h.exports.setup();
    feed(`GET /stream/300000?fail=100000 HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n`);
    const out = takeAll(7000);
    const body = out.split("\r\n\r\n").slice(1).join("\r\n\r\n");
    expect(out).toContain("Content-Length: 300000");
    expect(body.length).toBeLessThan(300000);
    expect(body).toBe(pattern(body.length));
    expect(out).not.toContain("hello");
    expect(h.exports.shouldClose()).toBe(1);
  });

  it("HEAD gets the length without reading the source", () => {
    h.exports.setup();
    feed(`HEAD /stream/5000 HTTP/1.1\r\nHost: t\r\n\r\n`);
    const out = takeAll(100000);
    expect(out).toContain("Content-Length: 5000");
    expect(out.endsWith("\r\n\r\n")).toBe(true);
    expect(h.exports.sourceReads()).toBe(0);
  });
});

describe("the small-value cache", () => {
  const cget = (key: string) => k.str(call(() => k.exports.cachedGet(s(key))));
  it("serves repeated reads from memory, never a stale value, within its byte limit, all of it metered", () => {
    k.exports.newDisk(1 << 20);
    expect(open()).toBe(OK);
    k.exports.newCache(8192, 1000);
    for (let i = 0; i < 40; i++) expect(put(`k${i}`, `value-${i}-` + "c".repeat(200))).toBe(OK);
    const reads0 = k.exports.diskReads();
    expect(cget("k1")).toBe("value-1-" + "c".repeat(200));
    const reads1 = k.exports.diskReads();
    expect(reads1).toBeGreaterThan(reads0);
    expect(cget("k1")).toBe("value-1-" + "c".repeat(200));
    expect(k.exports.diskReads()).toBe(reads1);                 // a hit: no disk read
    expect(Number(k.exports.cacheHits())).toBe(1);
    // Overwritten: the cached copy is not served.
    expect(put("k1", "new")).toBe(OK);
    expect(cget("k1")).toBe("new");
    // Many keys: the limit holds, the oldest go first, and the meter agrees.
    for (let i = 0; i < 40; i++) expect(cget(`k${i}`)).toBe(i === 1 ? "new" : `value-${i}-` + "c".repeat(200));
    expect(Number(k.exports.cacheBytes())).toBeLessThanOrEqual(8192);
    expect(k.exports.cacheCount()).toBeLessThan(40);
    expect(k.exports.meterTotal()).toBe(k.exports.cacheBytes());
    // Values over the size limit are never cached; compaction moving a value keeps its entry right.
    expect(put("big", "b".repeat(2000))).toBe(OK);
    expect(cget("big")).toBe("b".repeat(2000));
    expect(cget("big")).toBe("b".repeat(2000));
    const misses = Number(k.exports.cacheMisses());
    expect(cget("k39")).toBe("value-39-" + "c".repeat(200));
    const moved0 = Number(k.exports.bytesMoved());
    for (let i = 0; i < 4; i++) expect(call(() => k.exports.compactStep(0n))).toBe(OK);   // moves every live record
    expect(Number(k.exports.bytesMoved())).toBeGreaterThan(moved0);
    expect(cget("k39")).toBe("value-39-" + "c".repeat(200));
    expect(Number(k.exports.cacheMisses())).toBe(misses);
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
