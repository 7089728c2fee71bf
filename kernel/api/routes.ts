// kernel/api/routes.ts — the endpoint's route table: every path, method,
// handler and its documentation in one list. /openapi.json is generated from
// this table, so it cannot drift from what is served.
import { Router } from "../lib/http";
import { ApiState } from "./state";
import {
  OsHandler, StoreHandler, NetworkHandler, HardwareHandler, HealthHandler, MetricsHandler, StaticJsonHandler,
  OS_NAME, OS_VERSION, OS_UPTIME, OS_DATE, OS_MEMORY_TOTAL, OS_MEMORY_FREE, OS_THREADS, OS_DMESG, OS_CMDLINE,
  OS_HOSTNAME_GET, OS_HOSTNAME_SET, OS_SHUTDOWN, OS_REBOOT, OS_MEMORY, KV_LIST, KV_GET, KV_PUT, KV_DELETE,
  NET_IFCONFIG, NET_ROUTE, HW_CPU_COUNT, HW_HYPERVISOR, HW_DEVICES,
} from "./handlers";
import { openApiDocument } from "./openapi";
import { METRICS_CONTENT_TYPE } from "./metrics";
import { needsToken } from "./policy";

// @ts-ignore: decorator
@lazy
const STR = "{\"type\":\"string\"}";
// @ts-ignore: decorator
@lazy
const INT = "{\"type\":\"integer\",\"format\":\"int64\"}";
// @ts-ignore: decorator
@lazy
const STR_LIST = "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}";
// @ts-ignore: decorator
@lazy
const STR_MAP = "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}";
// @ts-ignore: decorator
@lazy
const KV = "{\"type\":\"object\",\"properties\":{\"key\":{\"type\":\"string\"},\"value\":{\"type\":\"string\"}}}";
// @ts-ignore: decorator
@lazy
const STATUS = "{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"}}}";
// @ts-ignore: decorator
@lazy
const THREADS = "{\"type\":\"object\",\"properties\":{\"time_ms\":{\"type\":\"integer\"},\"list\":{\"type\":\"array\",\"items\":" +
  "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},\"name\":{\"type\":\"string\"},\"status\":{\"type\":\"string\"}," +
  "\"cpu_ms\":{\"type\":\"integer\"},\"cpu_ns\":{\"type\":\"integer\"},\"switches\":{\"type\":\"integer\"},\"cpu\":{\"type\":\"integer\"}}}}}}";
// @ts-ignore: decorator
@lazy
const IFACES = "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"mac\":{\"type\":\"string\"}," +
  "\"mtu\":{\"type\":\"integer\"},\"up\":{\"type\":\"boolean\"},\"ipv4\":{\"type\":\"string\"},\"prefix_length\":{\"type\":\"integer\"}," +
  "\"stats\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}}}}";
// @ts-ignore: decorator
@lazy
const ROUTES = "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"destination\":{\"type\":\"string\"}," +
  "\"prefix_length\":{\"type\":\"integer\"},\"gateway\":{\"type\":\"string\"},\"interface\":{\"type\":\"string\"}}}}";
// @ts-ignore: decorator
@lazy
const DEVICES = "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"type\":{\"type\":\"string\"}," +
  "\"transport\":{\"type\":\"string\"},\"location\":{\"type\":\"string\"},\"irq\":{\"type\":\"string\"},\"state\":{\"type\":\"string\"}," +
  "\"detail\":{\"type\":\"string\"}}}}";
// @ts-ignore: decorator
@lazy
const MEMORY = "{\"type\":\"object\",\"properties\":{" +
  "\"total\":{\"type\":\"integer\"},\"free\":{\"type\":\"integer\"},\"used\":{\"type\":\"integer\"}," +
  "\"high_water\":{\"type\":\"integer\"},\"heap_size\":{\"type\":\"integer\"},\"heap_used\":{\"type\":\"integer\"}," +
  "\"heap_free\":{\"type\":\"integer\"},\"app_reserve\":{\"type\":\"integer\"}," +
  "\"by_subsystem\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}}}";
// @ts-ignore: decorator
@lazy
const HEALTH = "{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"},\"uptime_s\":{\"type\":\"integer\"}}}";

/** The route table. network: the table of the network listener, where every
 *  route but /health needs the token (policy.ts; NetworkGate checks it, so the
 *  router itself checks nothing); otherwise the host-only channel's, where
 *  nothing does (its socket's permissions decide who connects). The flags
 *  are what /openapi.json documents. */
export function buildRouter(api: ApiState, network: bool): Router {
  const r = new Router();
  r.auth = null;
  const os = "os";
  r.get("/os/name", new OsHandler(api, OS_NAME)).describe("Name of the operating system", os).returns(STR);
  r.get("/os/version", new OsHandler(api, OS_VERSION)).describe("Version of the operating system", os).returns(STR);
  r.get("/os/uptime", new OsHandler(api, OS_UPTIME)).describe("Seconds since boot", os).returns(INT);
  r.get("/os/date", new OsHandler(api, OS_DATE)).describe("Current date and time (RFC 3339, UTC)", os).returns(STR);
  r.get("/os/memory", new OsHandler(api, OS_MEMORY)).describe("Memory: totals, heap size and use, high-water mark, app reserve (bytes)", os).returns(MEMORY);
  r.get("/os/memory/total", new OsHandler(api, OS_MEMORY_TOTAL)).describe("Memory usable by the system, bytes", os).returns(INT);
  r.get("/os/memory/free", new OsHandler(api, OS_MEMORY_FREE)).describe("Free memory, bytes", os).returns(INT);
  r.get("/os/threads", new OsHandler(api, OS_THREADS)).describe("Scheduler tasks with their CPU time", os).returns(THREADS);
  r.get("/os/dmesg", new OsHandler(api, OS_DMESG)).describe("The kernel log ring", os).returns(STR);
  r.get("/os/cmdline", new OsHandler(api, OS_CMDLINE)).describe("The boot command line (secrets redacted)", os).returns(STR);
  r.get("/os/hostname", new OsHandler(api, OS_HOSTNAME_GET)).describe("The host name", os).returns(STR);
  r.post("/os/hostname", new OsHandler(api, OS_HOSTNAME_SET)).describe("Sets the host name", os).returns(STR)
    .query("name").accepts(STR);
  r.post("/os/shutdown", new OsHandler(api, OS_SHUTDOWN)).describe("Shuts the system down", os).returns(STATUS).status(202);
  r.post("/os/reboot", new OsHandler(api, OS_REBOOT)).describe("Reboots the system", os).returns(STATUS).status(202);

  const env = "env";
  r.get("/env/", new StoreHandler(api.env, KV_LIST, true, "var")).describe("All environment variables as NAME=value", env).returns(STR_LIST);
  r.get("/env/{var}", new StoreHandler(api.env, KV_GET, true, "var")).describe("One environment variable", env).returns(STR);
  r.post("/env/{var}", new StoreHandler(api.env, KV_PUT, true, "var")).describe("Sets an environment variable", env)
    .returns(KV).query("val").accepts(STR);
  r.delete("/env/{var}", new StoreHandler(api.env, KV_DELETE, true, "var")).describe("Removes an environment variable", env).status(204);

  const net = "network";
  r.get("/network/ifconfig", new NetworkHandler(api, NET_IFCONFIG)).describe("Network interfaces, addresses and counters", net).returns(IFACES);
  r.get("/network/route", new NetworkHandler(api, NET_ROUTE)).describe("The routing table", net).returns(ROUTES);

  const hw = "hardware";
  r.get("/hardware/processor/count", new HardwareHandler(api, HW_CPU_COUNT)).describe("Number of processors the machine has (ACPI MADT); the kernel runs on the first only", hw).returns(INT);
  r.get("/hardware/hypervisor", new HardwareHandler(api, HW_HYPERVISOR)).describe("The hypervisor the system runs on", hw).returns(STR);
  r.get("/hardware/devices", new HardwareHandler(api, HW_DEVICES)).describe("The virtio devices found at boot", hw).returns(DEVICES);

  const cfg = "config";
  r.get("/config/", new StoreHandler(api.config, KV_LIST, false, "key")).describe("The whole runtime configuration", cfg).returns(STR_MAP);
  r.get("/config/{key}", new StoreHandler(api.config, KV_GET, false, "key")).describe("One configuration value", cfg).returns(STR);
  r.put("/config/{key}", new StoreHandler(api.config, KV_PUT, false, "key"))
    .describe("Sets a configuration value; the app is notified", cfg).returns(KV).accepts(STR);
  r.delete("/config/{key}", new StoreHandler(api.config, KV_DELETE, false, "key"))
    .describe("Removes a configuration value; the app is notified", cfg).status(204);

  const ops = "operations";
  r.get("/metrics", new MetricsHandler(api)).describe("Metrics in the Prometheus text format", ops).producing(METRICS_CONTENT_TYPE).returns(STR);
  r.get("/health", new HealthHandler(api)).describe("Liveness", ops).returns(HEALTH);
  const doc = new StaticJsonHandler();
  r.get("/openapi.json", doc).describe("This document (OpenAPI 3.0)", ops).returns("{\"type\":\"object\"}");
  if (network) {
    for (let i = 0; i < r.routes.length; i++) {
      const route = unchecked(r.routes[i]);
      route.auth = needsToken(route.pattern);
    }
  } else {
    for (let i = 0; i < r.routes.length; i++) unchecked(r.routes[i]).auth = false;
  }
  // Generated last, so it includes every route above and itself.
  doc.text = openApiDocument(r, api.options.osName + " management API", api.options.osVersion,
    "Runtime management of a " + api.options.osName + " guest. " + (network
      ? "On the network (api.net=on) every operation but /health needs the bearer token given on the boot command line " +
        "(api.token=) or by the host (skiff run keeps it in a file only its user can read)."
      : "On the host-only channel (a unix socket only the host user can open) no token is needed."));
  return r;
}
