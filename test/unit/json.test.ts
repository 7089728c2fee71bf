// JSON encoder and strict decoder (kernel/lib/json) as Wasm in Node, checked
// against V8's JSON as the reference for valid texts.
import { describe, expect, it, beforeAll } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel, KernelModule } from "../platform/wasm.js";

type E = {
  reencode(buf: number, maxDepth: number, maxBytes: number): number;
  error(): number; quote(s: number): number; num(v: number): number; validUtf8(b: number): number; sample(): number;
  __new(n: number, id: number): number; __pin(p: number): number; __unpin(p: number): void; __collect(): void;
};

let k: KernelModule<E>;
const s = (t: string) => {
  const buf = Buffer.from(t, "utf16le");
  const p = k.exports.__pin(k.exports.__new(buf.length, 2));
  new Uint8Array(k.exports.memory.buffer).set(buf, p);
  return p;
};
function parse(input: string | Uint8Array, maxDepth = 64, maxBytes = 1 << 20): string | null {
  const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  const p = k.bytesIn(bytes);
  const r = k.exports.reencode(p, maxDepth, maxBytes);
  const out = r === 0 ? null : k.str(r);
  k.exports.__unpin(p);
  return out;
}

beforeAll(async () => {
  k = await loadKernel<E>("test/unit/wasm/json.ts", new FakeHost());
});

describe("JSON decoder: valid texts match V8", () => {
  const valid = [
    "0", "-0", "1", "-1", "12.5", "1e3", "1E+3", "2e-3", "123456789012", "0.1", "-12.75e-2",
    "true", "false", "null", '""', '"a"', '"\\u00e9\\n\\t\\"\\\\\\/"', '"\\ud83d\\ude80"', '"héllo ✓ 🚀"',
    "[]", "{}", "[1,2,[3,[4,{}]]]", '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
    ' \t\r\n{ "x" : [ 1 , 2 ] } \n', '{"a":1,"a":2}',
  ];
  for (const t of valid) {
    it(`parses ${JSON.stringify(t)}`, () => {
      const got = parse(t);
      expect(got).not.toBeNull();
      // Same value as V8 sees it (V8 keeps the last duplicate too).
      expect(JSON.stringify(JSON.parse(got!))).toBe(JSON.stringify(JSON.parse(t)));
    });
  }
});

describe("JSON decoder: strictness (RFC 8259)", () => {
  const invalid = [
    "", " ", "01", "-", "+1", "1.", ".5", "1e", "1e+", "0x10", "NaN", "Infinity", "tru", "nul",
    "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a:1}", "{'a':1}", "[", "{", "\"abc", "\"\\x\"",
    "\"\\u12G4\"", "\"tab\there\"", "\"nl\nhere\"", "// c\n1", "1 2", "[1]]", "\uFEFF1",
  ];
  for (const t of invalid) {
    it(`rejects ${JSON.stringify(t)}`, () => {
      expect(parse(t)).toBeNull();
      expect(k.str(k.exports.error())).not.toBe("");
    });
  }

  it("rejects invalid UTF-8 inside strings: overlong, surrogate, > U+10FFFF, truncated", () => {
    for (const bytes of [[0x22, 0xc0, 0xaf, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22], [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22],
      [0x22, 0xe2, 0x82, 0x22], [0x22, 0xff, 0x22], [0x22, 0x80, 0x22]]) {
      expect(parse(Uint8Array.from(bytes))).toBeNull();
    }
    expect(parse(Uint8Array.from([0x22, 0xe2, 0x82, 0xac, 0x22]))).toBe('"€"');
  });

  it("enforces the depth limit", () => {
    expect(parse("[".repeat(10) + "]".repeat(10), 10)).not.toBeNull();
    expect(parse("[".repeat(11) + "]".repeat(11), 10)).toBeNull();
    expect(k.str(k.exports.error())).toMatch(/nesting deeper than 10/);
    // Deep input far past the limit stops early instead of recursing.
    expect(parse("[".repeat(100000), 64)).toBeNull();
    expect(parse("{\"a\":".repeat(1000) + "1" + "}".repeat(1000), 64)).toBeNull();
  });

  it("enforces the size limit", () => {
    expect(parse('"' + "x".repeat(100) + '"', 64, 50)).toBeNull();
    expect(k.str(k.exports.error())).toMatch(/larger than 50 bytes/);
  });
});

describe("JSON encoder", () => {
  it("builds a document V8 reads back", () => {
    const t = k.str(k.exports.sample());
    expect(t).toBe('{"name":"Skiff \\"k\\"\\n","neg":-42,"big":18446744073709551615,"pi":3.25,"ok":true,"nothing":null,' +
      '"list":[1,{},[],"x"],"nested":{"a":[]}}');
    expect(JSON.parse(t).list).toEqual([1, {}, [], "x"]);
  });

  it("escapes strings like JSON.stringify (well-formed variant)", () => {
    const cases = ["", "plain", "q\"b\\s/", "\u0000\u0001\u001f\u007f", "\b\f\n\r\t", "é✓🚀", "\ud800", "a\udc00b", "\u2028"];
    for (const c of cases) expect(k.str(k.exports.quote(s(c)))).toBe(JSON.stringify(c));
  });

  it("writes numbers in the JSON grammar", () => {
    const cases: [number, string][] = [[0, "0"], [-0, "0"], [1, "1"], [-5, "-5"], [0.5, "0.5"], [1e21, "1e+21"],
      [2 ** 53, "9007199254740992"], [2 ** 60, String(2 ** 60)], [-(2 ** 55), String(-(2 ** 55))], [NaN, "null"], [Infinity, "null"], [-Infinity, "null"], [1.5e-7, "1.5e-7"]];
    for (const [v, want] of cases) {
      const got = k.str(k.exports.num(v));
      expect(got).toBe(want);
      if (want !== "null") expect(JSON.parse(got)).toBe(v === 0 ? 0 : v);
    }
  });
});

describe("JSON decoder fuzz", () => {
  it("never aborts on random and mutated input, and agrees with V8 on validity", () => {
    let seed = 0x1234567;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const seeds = ['{"a":[1,2.5e3,"x\\u0041",true,null],"b":{"c":"é"}}', "[[[]],{},-0.0]", '"\\ud83d\\ude80"'];
    const alphabet = '{}[]",:\\-+.0123456789eEtrufalsn \t\n\u00e9';
    let valid = 0;
    for (let trial = 0; trial < 3000; trial++) {
      let t: string;
      if (trial % 3 === 0) {
        t = Array.from({ length: rnd(24) }, () => alphabet[rnd(alphabet.length)]).join("");
      } else {
        const chars = [...seeds[trial % seeds.length]];
        for (let m = 0; m < 1 + rnd(3); m++) {
          const op = rnd(3), at = rnd(chars.length + 1);
          if (op === 0) chars.splice(at, 1);
          else if (op === 1) chars.splice(at, 0, alphabet[rnd(alphabet.length)]);
          else chars[at] = alphabet[rnd(alphabet.length)];
        }
        t = chars.join("");
      }
      const r = k.run(() => parse(t));
      expect(r.exit).toBeUndefined();
      let ref: unknown = undefined, refOk = true;
      try { ref = JSON.parse(t); } catch { refOk = false; }
      expect(r.value !== null).toBe(refOk);
      if (refOk) { valid++; expect(JSON.stringify(JSON.parse(r.value!))).toBe(JSON.stringify(ref)); }
      if (trial % 500 === 0) k.exports.__collect();
    }
    expect(valid).toBeGreaterThan(50);
  });
});
