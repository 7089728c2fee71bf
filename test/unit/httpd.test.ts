// The httpd app (apps/httpd) as Wasm in Node: a site image built by the CLI's
// cli/lib/sitefs.ts is mounted from memory and served through kernel/lib/http's
// connection core. Files byte-identical with their media types, strong ETags
// and If-None-Match → 304, single byte ranges (206, 416, If-Range), folders,
// 404/405/400, a file damaged after mount, and mutated images never aborting.
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel, KernelModule } from "../platform/wasm.js";
import { buildSiteImage, readSiteImage, type SiteFile } from "../../cli/lib/sitefs.js";

type E = {
  mount(img: number, budget: bigint, asDisk: number): number; directPull(req: number, piece: number): number; fileCount(): number; fileAt(i: number): number; setCacheControl(v: number): void;
  checksumErrors(): bigint; cachedBytes(): bigint; diskReads(): bigint; poke(off: number, v: number): void;
  exchange(req: number, direct: number): number; mime(p: number): number; compare(a: number, b: number): number;
  __new(n: number, id: number): number; __pin(p: number): number; __unpin(p: number): void; __collect(): void;
};

let k: KernelModule<E>;
beforeAll(async () => {
  k = await loadKernel<E>("test/unit/wasm/httpd.ts", new FakeHost());
});

function rand(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}
const FILES: SiteFile[] = [
  { path: "index.html", data: Buffer.from("<!doctype html><title>home</title><p>hello from skiff\n") },
  { path: "css/site.css", data: Buffer.from("body { color: #333 }\n") },
  { path: "js/app.js", data: Buffer.from("console.log('hi')\n") },
  { path: "img/logo.png", data: rand(3000, 7) },
  { path: "docs/index.html", data: Buffer.from("<p>docs</p>\n") },
  { path: "docs/guide.txt", data: Buffer.from("read me\n") },
  { path: "big.bin", data: rand(200_000, 11) },
  { path: "ünï code.txt", data: Buffer.from("unicode name\n") },
  { path: "empty.json", data: Buffer.alloc(0) },
  { path: "LICENSE", data: Buffer.from("no extension\n") },
];
const etagOf = (d: Uint8Array) => `"${createHash("sha256").update(d).digest("hex").slice(0, 32)}"`;
const byPath = new Map(FILES.map((f) => [f.path, f]));

const pins: number[] = [];
const s = (t: string) => {
  const buf = Buffer.from(t, "utf16le");
  const p = k.exports.__pin(k.exports.__new(buf.length, 2));
  new Uint8Array(k.exports.memory.buffer).set(buf, p);
  pins.push(p);
  return p;
};
function ab(p: number): Buffer {
  const len = new DataView(k.exports.memory.buffer).getUint32(p - 4, true);
  return Buffer.from(new Uint8Array(k.exports.memory.buffer).slice(p, p + len));
}
function mount(img: Uint8Array, budget = 32n << 20n, asDisk = false): string {
  const p = k.bytesIn(img);   // stays pinned: the site keeps pointing at it
  const r = k.run(() => k.exports.mount(p, budget, asDisk ? 1 : 0));
  expect(r.exit).toBeUndefined();
  return k.str(r.value!);
}

interface Resp { status: number; headers: Map<string, string>; body: Buffer }
/** The body pulled by the transport (as HttpTcpService does) or through the output buffer. */
let direct = true;
/** Sends one raw request on a fresh connection; parses the single answer. */
function send(raw: string, head = false): Resp {
  const p = k.bytesIn(Buffer.from(raw, "latin1"));
  const r = k.run(() => k.exports.exchange(p, direct ? 1 : 0));
  k.exports.__unpin(p);
  expect(r.exit).toBeUndefined();
  const out = ab(r.value!);
  const end = out.indexOf("\r\n\r\n");
  expect(end).toBeGreaterThan(0);
  const lines = out.subarray(0, end).toString("latin1").split("\r\n");
  const status = +lines[0].split(" ")[1];
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) { const i = l.indexOf(": "); headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 2)); }
  const body = out.subarray(end + 4);
  if (!head && status !== 304 && status !== 204) expect(body.length).toBe(+headers.get("content-length")!);
  if (head || status === 304) expect(body.length).toBe(0);
  return { status, headers, body };
}
const get = (path: string, extra = "", method = "GET") =>
  send(`${method} ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`, method === "HEAD");

describe("site image", () => {
  it("mounts what the CLI builds, in sorted order with the CLI's ETags", () => {
    const img = buildSiteImage(FILES);
    expect(readSiteImage(img)).toHaveLength(FILES.length);
    expect(mount(img)).toBe("");
    expect(k.exports.fileCount()).toBe(FILES.length);
    const listed = Array.from({ length: FILES.length }, (_, i) => k.str(k.exports.fileAt(i)));
    const sorted = [...FILES].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
    expect(listed).toEqual(sorted.map((f) => `${f.path} ${etagOf(f.data)}`));
  });

  it("refuses damaged and foreign images with a reason", () => {
    const img = buildSiteImage(FILES);
    const bad = Buffer.from(img); bad[0] ^= 1;
    expect(mount(bad)).toMatch(/magic/);
    const dir = Buffer.from(img); dir[520] ^= 0x40;
    expect(mount(dir)).toMatch(/directory checksum/);
    const hdr = Buffer.from(img); hdr[12] ^= 1;
    expect(mount(hdr)).toMatch(/header checksum/);
    expect(mount(Buffer.alloc(100))).toMatch(/smaller than one sector/);
  });

  it("never aborts on mutated images (300 mutants)", () => {
    const img = buildSiteImage(FILES);
    let x = 5;
    const r = (n: number) => { x = (x * 1103515245 + 12345) >>> 0; return (x >>> 8) % n; };
    for (let i = 0; i < 300; i++) {
      const m = Buffer.from(img.subarray(0, i % 3 === 0 ? r(img.length) : img.length));
      for (let j = 0; j < 1 + r(6); j++) m[r(Math.min(m.length, 2048)) || 0] = r(256);
      // Some mutants also get their checksums fixed, so the field checks are reached.
      if (i % 2 === 0 && m.length >= 512) fixChecksums(m);
      mount(m);
      k.exports.__collect();
    }
    expect(mount(img)).toBe("");
  });
});

// Every way a file goes out: from the image in memory (embedded), from a
// disk into the cache, and streamed from a disk the cache has no room for;
// the body pulled straight into the send ring, or through the output buffer.
const MODES: [string, bigint, boolean, boolean][] = [
  ["embedded, pulled by the transport", 32n << 20n, false, true],
  ["embedded, through the output buffer", 32n << 20n, false, false],
  ["disk, cached", 32n << 20n, true, true],
  ["disk, streamed (no cache room)", 0n, true, true],
  ["disk, streamed, through the output buffer", 0n, true, false],
];
describe.each(MODES)("serving files: %s", (_name, budget, asDisk, dir) => {
  beforeAll(() => { direct = dir; expect(mount(buildSiteImage(FILES), budget, asDisk)).toBe(""); });

  it("serves every file byte-identical with its type and ETag", () => {
    const types: Record<string, string> = {
      "index.html": "text/html; charset=utf-8", "css/site.css": "text/css; charset=utf-8", "js/app.js": "text/javascript; charset=utf-8",
      "img/logo.png": "image/png", "big.bin": "application/octet-stream", "ünï code.txt": "text/plain; charset=utf-8",
      "empty.json": "application/json", "LICENSE": "application/octet-stream", "docs/guide.txt": "text/plain; charset=utf-8",
    };
    for (const [path, type] of Object.entries(types)) {
      const r = get("/" + encodeURI(path));
      expect(r.status, path).toBe(200);
      expect(r.body.equals(Buffer.from(byPath.get(path)!.data)), path).toBe(true);
      expect(r.headers.get("content-type"), path).toBe(type);
      expect(r.headers.get("etag")).toBe(etagOf(byPath.get(path)!.data));
      expect(r.headers.get("accept-ranges")).toBe("bytes");
    }
  });

  it("serves index.html for / and folders, redirects a folder without its slash", () => {
    expect(get("/").body.toString()).toContain("hello from skiff");
    expect(get("/docs/").body.toString()).toBe("<p>docs</p>\n");
    const r = get("/docs");
    expect(r.status).toBe(301);
    expect(r.headers.get("location")).toBe("/docs/");
  });

  it("answers 404, 405 and 400 where it should", () => {
    expect(get("/nope.html").status).toBe(404);
    expect(get("/css/").status).toBe(404);   // a folder without index.html
    const p = get("/index.html", "Content-Length: 0\r\n", "POST");
    expect(p.status).toBe(405);
    expect(p.headers.get("allow")).toContain("GET");
    expect(get("/css/../index.html").status).toBe(400);
  });

  it("HEAD has GET's headers and no body", () => {
    const r = get("/big.bin", "", "HEAD");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-length")).toBe("200000");
    expect(r.headers.get("etag")).toBe(etagOf(byPath.get("big.bin")!.data));
  });

  it("If-None-Match: 304 for our tag (also weak, in a list, or *), 200 otherwise", () => {
    const tag = etagOf(byPath.get("css/site.css")!.data);
    for (const v of [tag, `W/${tag}`, `"nope", ${tag}`, "*"]) {
      const r = get("/css/site.css", `If-None-Match: ${v}\r\n`);
      expect(r.status, v).toBe(304);
      expect(r.headers.get("etag")).toBe(tag);
    }
    expect(get("/css/site.css", `If-None-Match: "other"\r\n`).status).toBe(200);
    // A changed file has a different tag.
    expect(etagOf(Buffer.from("body { color: #334 }\n"))).not.toBe(tag);
  });

  it("honours single byte ranges", () => {
    const big = Buffer.from(byPath.get("big.bin")!.data);
    const cases: [string, number, number][] = [["bytes=0-99", 0, 99], ["bytes=100-", 100, big.length - 1], ["bytes=-50", big.length - 50, big.length - 1],
      ["bytes=199990-300000", 199990, big.length - 1], ["bytes=-999999", 0, big.length - 1], ["bytes=5-5", 5, 5]];
    for (const [h, a, b] of cases) {
      const r = get("/big.bin", `Range: ${h}\r\n`);
      expect(r.status, h).toBe(206);
      expect(r.headers.get("content-range"), h).toBe(`bytes ${a}-${b}/${big.length}`);
      expect(r.body.equals(big.subarray(a, b + 1)), h).toBe(true);
    }
  });

  it("416 for unsatisfiable ranges; malformed or multiple ranges are ignored (200)", () => {
    for (const h of ["bytes=200000-", "bytes=999999-1000000", "bytes=-0"]) {
      const r = get("/big.bin", `Range: ${h}\r\n`);
      expect(r.status, h).toBe(416);
      expect(r.headers.get("content-range")).toBe("bytes */200000");
    }
    expect(get("/empty.json", "Range: bytes=0-\r\n").status).toBe(416);
    for (const h of ["bytes=5-3", "items=0-5", "bytes=0-1,5-6", "bytes=x-", "bytes="]) {
      const r = get("/big.bin", `Range: ${h}\r\n`);
      expect(r.status, h).toBe(200);
      expect(r.body.length).toBe(200000);
    }
  });

  it("If-Range: a matching tag allows the range, anything else sends the whole file", () => {
    const tag = etagOf(byPath.get("big.bin")!.data);
    expect(get("/big.bin", `Range: bytes=0-9\r\nIf-Range: ${tag}\r\n`).status).toBe(206);
    expect(get("/big.bin", `Range: bytes=0-9\r\nIf-Range: "stale"\r\n`).status).toBe(200);
    expect(get("/big.bin", `Range: bytes=0-9\r\nIf-Range: Sat, 01 Jan 2000 00:00:00 GMT\r\n`).status).toBe(200);
  });

  it("sends the configured Cache-Control", () => {
    k.exports.setCacheControl(s("public, max-age=60"));
    expect(get("/").headers.get("cache-control")).toBe("public, max-age=60");
    k.exports.setCacheControl(s(""));
    expect(get("/").headers.has("cache-control")).toBe(false);
  });

  it("maps extensions to media types", () => {
    const m = (p: string) => k.str(k.exports.mime(s(p)));
    expect(m("a/b.SVG")).toBe("image/svg+xml");
    expect(m("x.woff2")).toBe("font/woff2");
    expect(m(".hidden")).toBe("application/octet-stream");
    expect(m("dir.d/noext")).toBe("application/octet-stream");
    expect(m("a.wasm")).toBe("application/wasm");
  });
});

describe("site directory order", () => {
  it("is the order of paths' UTF-8 bytes, as mkfs sorts them (UTF-16 units differ above the surrogates)", () => {
    const words = ["", "a", "ab", "b", "B", "é", "e\u0301", "\u4e2d", "\ud7ff", "\ue000", "\uffff", "\ud83d\ude00", "\ud83d\ude01",
      "\ud83d\ude00x", "x\ud83d\ude00", "x\uffff", "x\ue000", "\ud800\udc00", "\udbff\udfff", "a/\ud83c\udf89.txt", "a/\uff21.txt"];
    const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
    for (const a of words) {
      for (const b of words) {
        const want = sign(Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
        const got = k.run(() => k.exports.compare(s(a), s(b)));
        expect(got.exit).toBeUndefined();
        expect(sign(got.value as number), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(want);
        while (pins.length) k.exports.__unpin(pins.pop()!);
      }
    }
  });
});

describe("one copy of a file's bytes", () => {
  const pull = (path: string, piece: number) => {
    const p = k.bytesIn(Buffer.from(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`, "latin1"));
    const r = k.run(() => k.exports.directPull(p, piece));
    k.exports.__unpin(p);
    expect(r.exit).toBeUndefined();
    return k.str(r.value!).split(" ").map(Number);
  };
  for (const [name, budget, asDisk] of [["embedded", 32n << 20n, false], ["disk, cached", 32n << 20n, true]] as const) {
    it(`${name}: the output buffer holds the head only; the body is pulled into the send ring's room`, () => {
      direct = true;
      expect(mount(buildSiteImage(FILES), budget, asDisk)).toBe("");
      get("/big.bin");                                 // a disk site reads it into its cache here
      const [head, body, pulls, seen] = pull("/big.bin", 7000);
      expect(head).toBeGreaterThan(0);
      expect(head).toBeLessThan(400);                  // status line and headers: no body bytes
      expect(body).toBe(200_000);
      expect(pulls).toBeGreaterThanOrEqual(Math.ceil(200_000 / 7000));   // no piece larger than the room offered
      expect(seen).toBe(0);                            // nothing of it ever went through the output buffer
    });
  }
  it("disk, streamed (no cache room): read 64 KiB at a time into the output buffer, never whole", () => {
    direct = true;
    expect(mount(buildSiteImage(FILES), 0n, true)).toBe("");
    const [head, body] = pull("/big.bin", 7000);
    expect(head).toBeGreaterThan(65536);             // the head and one 64 KiB disk read
    expect(head).toBeLessThan(65536 + 400);
    expect(body).toBe(0);                            // a disk source is not pulled in slivers
  });
});

describe("damage after mount", () => {
  it("a file whose bytes no longer match its checksum is a 500, not wrong bytes", () => {
    const img = buildSiteImage(FILES);
    expect(mount(img, 0n)).toBe("");   // no cache: every request reads the image
    const e = readSiteImage(img).find((f) => f.path === "docs/guide.txt")!;
    expect(get("/docs/guide.txt").status).toBe(200);
    k.exports.poke(e.offset + 2, 0x5a);
    expect(get("/docs/guide.txt").status).toBe(500);
    expect(Number(k.exports.checksumErrors())).toBe(1);
    expect(get("/index.html").status).toBe(200);
  });

  it("a file streamed from the disk (no cache room) ends short when its checksum fails, never whole and wrong", () => {
    const img = buildSiteImage(FILES);
    direct = true;
    expect(mount(img, 0n, true)).toBe("");
    const e = readSiteImage(img).find((f) => f.path === "big.bin")!;
    const before = Number(k.exports.checksumErrors());
    k.exports.poke(e.offset + 150_000, 0x5a ^ img[e.offset + 150_000]);
    const p = k.bytesIn(Buffer.from("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n", "latin1"));
    const r = k.run(() => k.exports.exchange(p, 1));
    k.exports.__unpin(p);
    const out = ab(r.value!);
    const end = out.indexOf("\r\n\r\n");
    expect(out.subarray(0, end).toString("latin1")).toContain("Content-Length: 200000");
    expect(out.length - end - 4).toBeLessThan(200_000);
    expect(Number(k.exports.checksumErrors())).toBe(before + 1);
  });
});

function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const byte of b) { c ^= byte; for (let i = 0; i < 8; i++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; }
  return ~c >>> 0;
}
function fixChecksums(m: Buffer) {
  const dirOff = m.readUInt32LE(16), dirBytes = m.readUInt32LE(20);
  if (dirOff + dirBytes <= m.length) m.writeUInt32LE(crc32(m.subarray(dirOff, dirOff + dirBytes)), 32);
  m.writeUInt32LE(crc32(m.subarray(0, 36)), 36);
}
