// test/apps/unreachable — executes Wasm's unreachable instruction.
import { println } from "skiff";

export function hitUnreachable(): void {
  unreachable();
}

export function main(): i32 {
  println("about to hit unreachable");
  hitUnreachable();
  return 0;
}
