// kernel/system/hosted.ts — steps 4 and 5 of main.ts for `skiff dev` (Wasm in
// Node, no QEMU): the entry of a hosted build calls startHostedSystem() before
// the app's main when the app uses the network (cli/lib/hosted/build.ts). The
// default stack is then kernel/lib/net/hosted.ts's, whose TCP is the host's
// sockets, and the REST endpoint runs on it as in a guest. No kernel module
// imports this file, so real images do not contain it.
import { Cmdline } from "../platform/bootinfo";
import { NetStack } from "../lib/net";
import { startHostedNetwork } from "../lib/net/hosted";
import { startApi } from "../api";
import { setDefaultNetwork } from "./main";

/** The hosted stack as the default network, and the REST endpoint on it. */
export function startHostedSystem(cmdline: Cmdline, quiet: bool): NetStack {
  const s = startHostedNetwork(cmdline, quiet);
  setDefaultNetwork(s);
  startApi(s, cmdline, quiet);
  return s;
}
