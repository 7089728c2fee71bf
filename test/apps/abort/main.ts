// test/apps/abort — an app that gives up: AssemblyScript's abort via throw.
import { println } from "skiff";

export function main(): i32 {
  println("about to abort");
  throw new Error("the app gave up");
}
