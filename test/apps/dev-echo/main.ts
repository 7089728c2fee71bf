// test/apps/dev-echo — the app `skiff dev`'s system test edits (test/system/dev.test.ts):
// GET / answers with ANSWER (the test rewrites that line and expects the new
// text after the reload); POST /echo sends the body back; a second port
// (dev.port2) answers "second"; GET /big sends 3 MiB. Ports from dev.port (default 8080) and dev.port2.
// With dev.relay=PORT (and dev.relay2=PORT) it also connects out to
// 127.0.0.1:PORT, sends a line and prints what comes back when the
// connection closes (outbound TCP).
import {
  println, intSetting, netStack, hold, every, setDaemon, TimerHandler, tcpConnect, TcpHandler, TcpSocket,
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

/** GET /big: 3 MiB, more than skiff dev lets a connection have in flight to
 *  the host at once (its send window): the rest goes out as writable() comes. */
class Big extends Handler {
  handle(req: Request, res: Response): void {
    const line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_\n";   // 64 bytes
    res.text(200, line.repeat(3 << 14));
  }
}

class Poll extends TimerHandler {
  constructor(public svc: HttpTcpService) { super(); }
  fire(now: u64): void { this.svc.poll(now); }
}

class Relay extends TcpHandler {
  got: string = "";
  constructor(public name: string) { super(); }
  connected(s: TcpSocket): void { s.writeString("ping from " + this.name + "\n"); }
  readable(s: TcpSocket): void {
    const buf = new Uint8Array(256);
    let n = s.read(buf.dataStart, buf.length);
    while (n > 0) {
      this.got += String.UTF8.decodeUnsafe(buf.dataStart, <usize>n);
      n = s.read(buf.dataStart, buf.length);
    }
    if (n < 0) s.close();
  }
  closed(s: TcpSocket): void {
    println("dev-echo: " + this.name + " got \"" + this.got.trim() + "\" (error " + s.error.toString() + ")");
  }
}

const LOOPBACK: u32 = 0x7f000001;

function relay(key: string): void {
  const port = intSetting(key, 0, 0, 65535);
  if (port == 0) return;
  if (tcpConnect(LOOPBACK, <u32>port, new Relay(key)) === null) println("dev-echo: " + key + " could not connect");
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
  r.get("/big", new Big());
  if (!serve(r, intSetting("dev.port", 8080, 1, 65535), "answers")) return 1;
  const r2 = new Router();
  r2.get("/", new Answer("second"));
  if (!serve(r2, intSetting("dev.port2", 8081, 1, 65535), "second")) return 2;
  relay("dev.relay");
  relay("dev.relay2");
  hold();
  return 0;
}
