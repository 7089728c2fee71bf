// test/apps/rng — entropy system test guest: 4 KiB from the kernel's random
// source, printed as hex for the host to compare across boots, with the
// source's name and a few sanity checks (not constant, many distinct bytes).
import { println, randomBytes, randomSourceName } from "skiff";

export function main(): i32 {
  const n = 4096;
  const b = new Uint8Array(n);
  randomBytes(b.dataStart, n);
  const seen = new StaticArray<bool>(256);
  let distinct = 0;
  let hex = "";
  for (let i = 0; i < n; i++) {
    const v = b[i];
    if (!seen[v]) { seen[v] = true; distinct++; }
    const h = (<u32>v).toString(16);
    hex += h.length < 2 ? "0" + h : h;
  }
  println("source: " + randomSourceName());
  println("distinct bytes: " + distinct.toString());
  println("entropy: " + hex);
  return distinct > 200 ? 0 : 1;
}
