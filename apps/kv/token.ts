// apps/kv/token.ts — comparing a presented bearer token with the expected one
// (kv.token) so that the time taken does not depend on the presented token:
// not on how much of it matches, nor on how long it is.

/** True when presented == expected. Every code unit of expected is compared
 *  (against presented's at the same place, or its last one past its end), and
 *  the lengths are folded into the result: the work depends only on
 *  expected's length. */
export function tokenEquals(presented: string, expected: string): bool {
  const pn = presented.length, en = expected.length;
  let diff: u32 = <u32>(pn ^ en);
  const last = pn > 0 ? pn - 1 : 0;
  for (let i = 0; i < en; i++) {
    const j = i < pn ? i : last;
    const c: u32 = pn > 0 ? <u32>presented.charCodeAt(j) : 0x10000;
    diff |= c ^ <u32>expected.charCodeAt(i);
  }
  return diff == 0;
}
