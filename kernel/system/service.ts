// kernel/system/service.ts — serve(): an HTTP service on a TCP port in one call,
// for apps. It brings the default network up (network.ts) and the management
// API with it (main.ts, step 5: an app that serves HTTP gets the REST endpoint
// on port 8000 and the host-only channel), runs the handler
// (a Router, a Handler object or a plain function) on an HttpServer with the
// kernel's default limits, checks connection timeouts once a second, prints
// the "listening" line once the interface has an address, and keeps the guest
// running until it is shut down:
//
//   function hello(req: Request, res: Response): void { res.json(200, "\"hi\""); }
//   export function main(): i32 {
//     const app = new Router();
//     app.get("/hello", hello);
//     return serve(8080, app) !== null ? 0 : 1;
//   }
import { println } from "../core/console";
import { TimerHandler, Timer, every, setDaemon, hold, release, cancel } from "../core/sched";
import { HttpServer, HttpTcpService, toHandler } from "../lib/http";
import { TCP_MAX_HALF_OPEN } from "../lib/net";
import { netStack, announceListening } from "./network";
import { intSetting } from "../lib/config";
import { startManagementApi } from "./main";

/** How often connections' idle and request timeouts are checked. */
const POLL_NS: u64 = 1_000_000_000;
/** Open connections before the least useful one makes room for a newcomer
 *  (the server's own default is 16); half of it per client address, so one
 *  client may keep 256 connections alive, as nginx's default 768 allows
 *  (a table of 256 had wrk -c256 evicting its own kept-alive connections). */
export const DEFAULT_MAX_CONNECTIONS: i32 = 512;
/** Handshakes in progress before more SYNs are answered with cookies: as many
 *  as the stack allows at once (nginx listens with 511). At the default 64,
 *  `wrk -c256` opening its connections together had ~190 of them made from
 *  cookies (no window scaling, and a handshake whose ACK is lost is not
 *  retried by us), which showed as the p99 tail of that row. */
export const HTTP_BACKLOG: i32 = TCP_MAX_HALF_OPEN;

class PollService extends TimerHandler {
  constructor(public svc: HttpTcpService) { super(); }
  fire(now: u64): void { this.svc.poll(now); }
}

/** A running service: its server (limits, stats, observer) and port. */
export class HttpService {
  constructor(public name: string, public port: u32, public server: HttpServer,
              public tcp: HttpTcpService, public poller: Timer) {}

  /** Stops listening and lets the guest end once nothing else holds it;
   *  connections already open are served to their end. */
  close(): void {
    const l = this.tcp.listener;
    if (l !== null) l.close();
    cancel(this.poller);
    release();
  }
}

/** Serves handler (a Router, a Handler object or a function
 *  `(req: Request, res: Response) => void`) over HTTP/1.1 on TCP port.
 *  name prefixes the console lines ("NAME: listening on TCP port P at A").
 *  Returns null, after saying why on the console, when there is no network
 *  device or the port is taken. Keeps the guest running (hold()) until
 *  POST /os/shutdown or HttpService.close(). */
export function serve<T>(port: u32, handler: T, name: string = "app"): HttpService | null {
  const h = toHandler<T>(handler);
  const stack = netStack();
  if (stack === null) {
    println(name + ": no network device (boot with one: skiff run --net user, the default)");
    return null;
  }
  startManagementApi();                             // api.port= (default 8000); api.off: none
  const server = new HttpServer(h);
  server.maxConnections = DEFAULT_MAX_CONNECTIONS;
  const tcp = new HttpTcpService(server);
  // TCP keepalive finds clients that vanished (0: off).
  tcp.keepAlive(<i64>intSetting("http.keepalive_idle_ms", 60_000, 0, 86_400_000) * 1_000_000,
    <i64>intSetting("http.keepalive_interval_ms", 10_000, 100, 3_600_000) * 1_000_000,
    intSetting("http.keepalive_probes", 6, 1, 100));
  if (port == 0 || port > 65535 || !tcp.listen(stack.tcp, port, HTTP_BACKLOG)) {
    println(name + ": TCP port " + port.toString() + " is taken or invalid");
    return null;
  }
  const poller = every(POLL_NS, new PollService(tcp));
  setDaemon(poller, true);
  announceListening(stack, name, "TCP port " + port.toString());
  hold();
  return new HttpService(name, port, server, tcp, poller);
}
