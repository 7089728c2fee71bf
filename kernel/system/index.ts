// kernel/system — the composition layer: which services exist and when they
// start (main.ts reads top to bottom), the default network on the first NIC,
// devices and outbound calls for apps, serve(). Nothing below imports it;
// kernel/index.ts (the app-facing face, "skiff") re-exports it.
export {
  KERNEL_NAME, KERNEL_VERSION,
} from "../core/version";
export {
  startKernel, finishKernel, bootKernel, startDevices, startDefaultNetwork, startManagementApi,
} from "./main";
export { tcpListen, tcpConnect, udpBind, netStack, netCounters, announceListening } from "./network";
export { randomBytes, randomU32, randomU64, probeDevices } from "./devices";
export { serve, HttpService, DEFAULT_MAX_CONNECTIONS } from "./service";
export {
  resolveHost, dnsResolver, dnsResolverFor, newLoopResolver, tcpConnectHost, TcpHostHandler,
  httpClient, httpRequest, httpGet, httpPost, httpPut, httpDelete,
} from "./outbound";
