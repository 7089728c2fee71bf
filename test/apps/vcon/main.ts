// test/apps/vcon — virtio-console system test guest: the kernel console is
// copied to the virtio console; the host finds this line in its chardev file.
import { println, bootInfo, probeDevices } from "skiff";

export function main(): i32 {
  probeDevices();   // start the virtio console now, so this line goes there too
  const tag = bootInfo().cmdline.get("vcon.tag");
  println("vcon line " + (tag === null ? "none" : tag!) + " via virtio-console");
  return 0;
}
