// test/apps/fault — touches device memory outside the identity map: a page
// fault the loader must report (vector, RIP, CR2) before ending the guest.
import { println } from "skiff";
import { mmio_read32 } from "skiff/kernel/platform";

export function main(): i32 {
  println("touching unmapped memory");
  const v = mmio_read32(0x40_0000_0000);
  println("read " + v.toString() + " (no fault?)");
  return 0;
}
