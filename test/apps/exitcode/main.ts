// test/apps/exitcode — returns the status given as exitcode=N on the command line.
import { println, bootInfo } from "skiff";

export function main(): i32 {
  const v = bootInfo().cmdline.get("exitcode");
  const n = v === null ? 0 : I32.parseInt(v);
  println("exiting with " + n.toString());
  return n;
}
