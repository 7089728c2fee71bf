// test/apps/broken — does not compile (a type error and a syntax error on purpose).
import { println } from "skiff";

export function main(): i32 {
  const x: i32 = "not a number";
  println("unbalanced" ;
  return x;
}
