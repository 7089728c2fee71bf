// test/apps/dev-echo — the app `skiff dev`'s system test edits (test/system/dev.test.ts):
// GET / answers with ANSWER (the test rewrites that line and expects the new
// text after the reload); POST /echo sends the body back; a second port
// (dev.port2) answers "second". Ports from dev.port (default 8080) and dev.port2.
import {
  println, intSetting, netStack, hold, every, setDaemon, TimerHandler,
  HttpServer, Router, HttpTcpService, Handler, Request, Response, announceListening,
} from "skiff";

const ANSWER = "answer v1";

class Answer extends Handler {
  constructor(public text: string) { super(); }
  handle(req: Request, res: Response): void { res.text(200, this.text + "\n"); }
}

class Echo extends Handler {
  handle(req: Request, res: Response): void { res.text(200, "echo " + req.bodyText()); }
}

class Poll extends TimerHandler {
  constructor(public svc: HttpTcpService) { super(); }
  fire(now: u64): void { this.svc.poll(now); }
}

function serve(router: Router, port: i32, name: string): bool {
  const stack = netStack();
  if (stack === null) { println("dev-echo: no network"); return false; }
  const svc = new HttpTcpService(new HttpServer(router));
  if (!svc.listen(stack.tcp, <u32>port)) { println("dev-echo: TCP port " + port.toString() + " is taken"); return false; }
  setDaemon(every(1_000_000_000, new Poll(svc)), true);
  announceListening(stack, "dev-echo", name + " on TCP port " + port.toString());
  return true;
}

export function main(): i32 {
  const r = new Router();
  r.get("/", new Answer(ANSWER));
  r.post("/echo", new Echo());
  if (!serve(r, intSetting("dev.port", 8080, 1, 65535), "answers")) return 1;
  const r2 = new Router();
  r2.get("/", new Answer("second"));
  if (!serve(r2, intSetting("dev.port2", 8081, 1, 65535), "second")) return 2;
  hold();
  return 0;
}
