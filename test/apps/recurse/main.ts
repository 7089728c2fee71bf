// test/apps/recurse — recursion without end must trap ("call stack
// exhausted", status 71) when the stack runs into its guard pages, not run
// over whatever lies below the stack.
import { println } from "skiff";

let sink: i32 = 0;

export function dive(n: i32): i32 {
  sink = n;
  const r = dive(n + 1);
  sink = r;
  return r ^ n;   // not a tail call: neither binaryen nor gcc can make it a loop
}

export function main(): i32 {
  println("diving");
  const v = dive(1);
  println("came back with " + v.toString() + " (the stack has no end?)");
  return 0;
}
