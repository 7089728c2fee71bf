// kernel/api — the REST management endpoint (OSv-compatible /os, /env,
// /network, /hardware; plus /config, /metrics, /openapi.json, /health) as an
// HTTP server whose connections a TCP adapter drives. Kernel state arrives
// through the provider interfaces in providers.ts.
import { HttpServer, Router } from "../lib/http";
import { KeyValueStore } from "../lib/config";
import { ApiOptions, ApiState } from "./state";
import { buildRouter } from "./routes";
import { NetworkGate } from "./policy";

export * from "./providers";
export { ApiOptions, ApiState, MetricsSource, validHostname, validToken, AuthLogger, DEFAULT_API_PORT, ARG_NET, ARG_PORT } from "./state";
export { MetricsWriter, RequestMetrics, METRICS_CONTENT_TYPE, formatValue } from "./metrics";
export { openApiDocument } from "./openapi";
export { buildRouter } from "./routes";
export { NetworkGate, needsToken, OPEN_PATH } from "./policy";
export { inputValue, metricsText } from "./handlers";

export class Api {
  state: ApiState;
  /** The network listener's route table (every route but /health needs the token). */
  router: Router;
  /** The server for the network listener (api.net=on): NetworkGate over router. */
  server: HttpServer;
  /** The server for the host-only channel (hostchannel.ts): its own table,
   *  without the token check. Shares server's limits. */
  hostServer: HttpServer;

  /** Builds the endpoint. Without options.token the network listener refuses
   *  every request but /health. */
  constructor(options: ApiOptions, config: KeyValueStore, env: KeyValueStore) {
    const state = new ApiState(options, config, env);
    const router = buildRouter(state, true);
    const server = new HttpServer(new NetworkGate(router, state.auth, options.readOnly));
    server.observer = state.metrics;
    // The kernel's own handlers: still contained, but they may grow the heap
    // into the reserve kept back from app code (kernel/core/fault.ts).
    server.appCode = false;
    // The management port serves small JSON; a tighter body limit than apps get.
    server.limits.maxBody = 65536;
    if (options.requestTimeoutMs > 0) server.limits.requestTimeoutNs = <u64>options.requestTimeoutMs * 1_000_000;
    const host = new HttpServer(buildRouter(state, false));
    host.observer = state.metrics;
    host.appCode = false;
    host.limits = server.limits;
    this.state = state;
    this.router = router;
    this.server = server;
    this.hostServer = host;
  }
}
export { startApi, runningApi, TOKEN_FWCFG_FILE } from "./boot";
export { installKernelProviders, hypervisorName, KernelMemory, KernelTasks, KernelDevices, KernelBlocks, KernelWallClock } from "./kernel";
