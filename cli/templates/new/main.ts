// main.ts — __NAME__: a small HTTP service on Skiff. The kernel brings up
// TCP/IP (DHCP) and its management API (on the host-only socket skiff run
// prints; on port 8000 too with api.net=on); this app answers on
// port 8080 (boot word app.port=N, or --config app.port=N, changes it):
//   GET /              a greeting
//   GET /hello/{name}  a greeting for name
import {
  println, netStack, hold, every, setDaemon, intSetting, announceListening,
  TimerHandler, HttpServer, Router, HttpTcpService, Handler, Request, Response,
} from "skiff";

class Hello extends Handler {
  handle(req: Request, res: Response): void {
    const name = req.param("name");
    res.text(200, "Hello, " + (name !== null ? name : "world") + "!\n");
  }
}

/** Connection timeouts need a periodic poll. */
class Poll extends TimerHandler {
  constructor(public svc: HttpTcpService) { super(); }
  fire(now: u64): void { this.svc.poll(now); }
}

export function main(): i32 {
  const stack = netStack();
  if (stack === null) { println("__NAME__: no network device"); return 1; }
  const router = new Router();
  const hello = new Hello();
  router.get("/", hello);
  router.get("/hello/{name}", hello);
  const svc = new HttpTcpService(new HttpServer(router));
  const port = intSetting("app.port", 8080, 1, 65535);
  if (!svc.listen(stack.tcp, <u32>port)) { println("__NAME__: TCP port " + port.toString() + " is taken"); return 2; }
  setDaemon(every(1_000_000_000, new Poll(svc)), true);
  announceListening(stack, "__NAME__", "TCP port " + port.toString());
  hold();                                   // serve until shut down
  return 0;
}
