// kernel/index.ts — the kernel's public API: what apps import from "skiff".
export { print, println, dmesg } from "./core/console";
export { bootInfo, cmdline, BootInfo, Cmdline, MemRegion } from "./platform/bootinfo";
export { memoryInfo, MemoryInfo, MemOwner, MemStats, allocPages, freePages, physAddr, memStats, memStatsLine, chargeHeap } from "./core/mm";
export {
  Task, TaskState, Service, TimerHandler, Timer, TaskInfo, SchedStats,
  spawn, wake, sleep, after, every, at, rearm, cancel, setDaemon, addService, removeService,
  hold, release, requestExit, runLoop, sleepBlocking, yieldNow, shouldYield, pollSoon,
  taskSnapshot, schedStats, nowNs, wallClockNs,
} from "./core/sched";
export { IrqHandler, irqForGsi, irqForIsa, allocMsiVector, msiAddress, msiData, freeVector, irqCountFor, irqTotal } from "./core/irq";
export { tscFrequency, clockSource, deadlineTimerMode } from "./core/time";
export { panic } from "./core/panic";
export { exitGuest, EXIT_SUCCESS, EXIT_PANIC, EXIT_TRAP, EXIT_FAULT } from "./platform";
export { KERNEL_NAME, KERNEL_VERSION } from "./core/version";
export {
  virtioDeviceList, VirtioDeviceInfo, blkDevice, blkCount, VirtioBlk, BlkRequest, BlkCallback, blkErrorName,
  SECTOR_SIZE, BLK_OK, BLK_PENDING, BLK_ERR_IO, BLK_ERR_UNSUPPORTED, BLK_ERR_RANGE, BLK_ERR_READ_ONLY,
  BLK_ERR_BUSY, BLK_ERR_ARG, BLK_ERR_TIMEOUT, BLK_ERR_DEVICE, serviceVirtio, netDevice, netCount, macString,
} from "./drivers/virtio";
export { NetDevice, FrameSink, NetDeviceStats } from "./lib/net";
// The default network (first NIC + stack), started on first use (kernel/system).
export { tcpListen, tcpConnect, udpBind, netStack, netCounters, announceListening } from "./system";
export {
  netCountersText, NetStack, AddressHandler, NetConfig, NetCounters, Counter,
  COUNTER_COUNT, counterName, TcpSocket, TcpState, tcpStateName, TcpHandler, TcpListener, TcpListenHandler,
  TCP_OK, TCP_ERR_REFUSED, TCP_ERR_RESET, TCP_ERR_TIMEOUT, TCP_ERR_ABORTED, UdpSocket, UdpHandler, DhcpState,
  ipToString, parseIp, macToString, EntropySource,
} from "./lib/net";
export { randomSourceName, RandomSource, setHardwareSource } from "./core/random";
// Devices are probed on first use; these make sure of it.
export { randomBytes, randomU32, randomU64, probeDevices } from "./system";
export {
  HttpServer, HttpConnection, HttpLimits, HttpObserver, Router, Route, Handler, BodySource, BytesSource, Request, Response, Header, HeaderLine,
  BearerAuth, WallClock, FixedOffsetClock, ByteBuf, httpDate, isoDate, MIME_JSON, MIME_TEXT, MIME_OCTETS, HttpTcpService,
  HandlerFn, FnHandler,
} from "./lib/http";
// An HTTP service in one call (the network, limits, timeouts, the listening line).
export { serve, HttpService } from "./system";
// Calling other services: DNS, tcpConnect by name, the HTTP client (kernel/system/outbound.ts).
export {
  resolveHost, dnsResolver, dnsResolverFor, newLoopResolver, tcpConnectHost, TcpHostHandler,
  httpClient, httpRequest, httpGet, httpPost, httpPut, httpDelete,
} from "./system";
export {
  DnsResolver, DnsResult, DnsHandler, DnsOptions, dnsErrorName, DNS_OK, DNS_ERR_NXDOMAIN, DNS_ERR_SERVFAIL,
  DNS_ERR_TIMEOUT, DNS_ERR_MALFORMED, DNS_ERR_NO_DATA, DNS_ERR_BAD_NAME, DNS_ERR_NO_SERVER, DNS_ERR_NETWORK,
  DNS_ERR_CNAME_CHAIN, DNS_ERR_BUSY,
} from "./lib/net";
export {
  HttpClient, HttpClientRequest, HttpClientResponse, HttpClientHandler, HttpCallback, BodySink, parseHttpUrl, httpErrorName,
  HTTP_OK, HTTP_ERR_URL, HTTP_ERR_RESOLVE, HTTP_ERR_CONNECT, HTTP_ERR_TIMEOUT, HTTP_ERR_CLOSED, HTTP_ERR_PROTOCOL,
  HTTP_ERR_TOO_LARGE, HTTP_ERR_NETWORK, HTTP_ERR_BAD_REQUEST,
} from "./lib/http";
export { JsonWriter, JsonValue, parseJson, parseJsonBytes, jsonString, lastJsonError } from "./lib/json";
export { config, KeyValueStore, ConfigListener, seedFromCmdline, setting, intSetting } from "./lib/config";
export { env, getenv, setenv, unsetenv } from "./lib/env";
export { Api, ApiOptions, ApiState, MetricsSource, MetricsWriter, startApi, runningApi } from "./api";
// The management API for an app with sockets of its own (serve() starts it itself).
export { startManagementApi } from "./system";

// Used by the entry file that `skiff build` generates; not for apps.
export { bootKernel, startKernel, finishKernel } from "./system";
export { abortHandler } from "./core/panic";
export { HOSTIF_VERSION } from "./platform";
