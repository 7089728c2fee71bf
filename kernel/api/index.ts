// kernel/api — the REST management endpoint (OSv-compatible /os, /env,
// /network, /hardware; plus /config, /metrics, /openapi.json, /health) as an
// HTTP server whose connections a TCP adapter drives. Kernel state arrives
// through the provider interfaces in providers.ts.
import { HttpServer, Router } from "../http";
import { KeyValueStore } from "../config";
import { ApiOptions, ApiState } from "./state";
import { buildRouter } from "./routes";

export * from "./providers";
export { ApiOptions, ApiState, MetricsSource, validHostname, validToken, AuthLogger, DEFAULT_API_PORT } from "./state";
export { MetricsWriter, RequestMetrics, METRICS_CONTENT_TYPE, formatValue } from "./metrics";
export { openApiDocument } from "./openapi";
export { buildRouter } from "./routes";
export { inputValue, metricsText } from "./handlers";

export class Api {
  state: ApiState;
  router: Router;
  server: HttpServer;

  /** Builds the endpoint. Without options.token every state-changing
   *  request is refused. */
  constructor(options: ApiOptions, config: KeyValueStore, env: KeyValueStore) {
    const state = new ApiState(options, config, env);
    const router = buildRouter(state);
    const server = new HttpServer(router);
    server.observer = state.metrics;
    // The kernel's own handlers: still contained, but they may grow the heap
    // into the reserve kept back from app code (kernel/fault.ts).
    server.appCode = false;
    this.state = state;
    this.router = router;
    this.server = server;
    // The management port serves small JSON; a tighter body limit than apps get.
    this.server.limits.maxBody = 65536;
    if (options.requestTimeoutMs > 0) this.server.limits.requestTimeoutNs = <u64>options.requestTimeoutMs * 1_000_000;
  }
}
export { startApi, runningApi, TOKEN_FWCFG_FILE } from "./boot";
export { installKernelProviders, hypervisorName, KernelMemory, KernelTasks, KernelDevices, KernelBlocks, KernelWallClock } from "./kernel";
