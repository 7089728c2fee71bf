// test/apps/faulty — an HTTP app with deliberately broken handlers, a task and
// a timer that fault, for test/system/faults.test.ts and bench/faults.ts.
// Port 8080 (faulty.port=):
//   GET /ok            200 "ok <n>" (allocates a little, like a real handler)
//   GET /oob           indexes an array out of bounds (an abort: RangeError)
//   GET /trap          loads from past the end of linear memory (a Wasm trap)
//   GET /null          calls a method on a null object (the class id is read
//                      from address -8: a trap)
//   GET /unreachable   executes `unreachable`
//   GET /grow          allocates without bound (heap exhaustion: 503)
//   GET /hold?mib=N    keeps N MiB allocated for good (a leak), 200
//   POST /task         spawns a task that faults on its first poll, 202
//   POST /timer        arms a timer that faults 10 ms later, 202
//   GET /work          200 after a task and a timer that behave ran once each
//   GET /recurse       recursion without end (the loader stack's guard pages:
//                      "call stack exhausted")
//   GET /shadow        recursion without end that holds many references per
//                      level and asks the kernel for a query parameter at
//                      each: AssemblyScript's shadow stack runs out first
//   GET /gc            a full garbage collection, then 200 (for leak checks)
// The management endpoint (8000, startManagementApi) serves /metrics and /os/memory.
// faulty.exit=N: main returns N at once. faulty.main-oom=1 on the command line: main allocates without bound before
// serving (not guarded: the guest panics, status 70).
import {
  println, netStack, hold, every, after, setDaemon, spawn, Task, TimerHandler, HttpServer, Router, HttpTcpService,
  Handler, Request, Response, MIME_TEXT, intSetting, announceListening, startManagementApi,
} from "skiff";

let served: u64 = 0;
const kept = new Array<ArrayBuffer>();

abstract class Shape { abstract area(): i32; }
class Square extends Shape {
  constructor(public side: i32) { super(); }
  area(): i32 { return this.side * this.side; }
}

class Ok extends Handler {
  handle(req: Request, res: Response): void {
    served++;
    const parts = new Array<string>();
    for (let i = 0; i < 4; i++) parts.push(i.toString());
    res.send(200, MIME_TEXT, "ok " + served.toString() + " " + parts.join(","));
  }
}

/** The bug the issue describes: an index one past the end, from the request. */
class OutOfBounds extends Handler {
  handle(req: Request, res: Response): void {
    const items = [1, 2, 3];
    const i = req.path.length;   // "/oob" → 4: past the end
    res.send(200, MIME_TEXT, items[i].toString());
  }
}

class Trap extends Handler {
  handle(req: Request, res: Response): void {
    const p: usize = <usize>0xfffffff0 - <usize>req.path.length;
    res.send(200, MIME_TEXT, load<u32>(p).toString());
  }
}

class NullCall extends Handler {
  handle(req: Request, res: Response): void {
    const s = req.path.length > 100 ? new Square(2) : changetype<Shape>(0);
    res.send(200, MIME_TEXT, s.area().toString());
  }
}

class Unreachable extends Handler {
  handle(req: Request, res: Response): void {
    if (req.path.length > 0) unreachable();
    res.send(200, MIME_TEXT, "?");
  }
}

/** Allocates 64 KiB buffers, keeping them, until the heap cannot grow. */
class Grow extends Handler {
  handle(req: Request, res: Response): void {
    const bufs = new Array<ArrayBuffer>();
    for (;;) bufs.push(new ArrayBuffer(65536));
  }
}

class Hold extends Handler {
  handle(req: Request, res: Response): void {
    const q = req.queryParam("mib");
    const mib = q === null ? 1 : I32.parseInt(q);
    for (let i = 0; i < mib * 16; i++) kept.push(new ArrayBuffer(65536));
    res.send(200, MIME_TEXT, "holding " + (kept.length >> 4).toString() + " MiB");
  }
}

class FaultyTask extends Task {
  poll(now: u64): void {
    const a = new Array<i32>(2);
    println("faulty: task polled, indexing past the end");
    println("faulty: task read " + a[<i32>(now & 0) + 5].toString());
  }
}

class FaultyTimer extends TimerHandler {
  fire(now: u64): void {
    println("faulty: timer fired, executing unreachable");
    if (now > 0) unreachable();
  }
}

let goodTaskRuns = 0;
let goodTimerRuns = 0;
class GoodTask extends Task {
  poll(now: u64): void { goodTaskRuns++; this.finish(); }
}
class GoodTimer extends TimerHandler {
  fire(now: u64): void { goodTimerRuns++; }
}

class SpawnTask extends Handler {
  handle(req: Request, res: Response): void {
    spawn(new FaultyTask("faulty-task"));
    res.send(202, MIME_TEXT, "spawned");
  }
}

class ArmTimer extends Handler {
  handle(req: Request, res: Response): void {
    after(10_000_000, new FaultyTimer());
    res.send(202, MIME_TEXT, "armed");
  }
}

class Work extends Handler {
  handle(req: Request, res: Response): void {
    spawn(new GoodTask("good-task"));
    after(1_000_000, new GoodTimer());
    res.send(200, MIME_TEXT, "task " + goodTaskRuns.toString() + " timer " + goodTimerRuns.toString());
  }
}

function depth(n: i32, s: string): i32 {
  const t = s + "x";
  if (n < 0) return t.length;
  return depth(n + 1, t.length > 64 ? "" : t) + t.length;
}

class Recurse extends Handler {
  handle(req: Request, res: Response): void {
    res.send(200, MIME_TEXT, depth(0, req.path).toString());
  }
}

/** Ten references live across each level's call: 40 bytes of shadow stack
 *  a level against about twice that of native stack, so the 16 KiB shadow
 *  stack runs out before the 64 KiB native one. */
function shadowDeep(n: i32, req: Request): i32 {
  const a = req.path, b = req.method, c = req.path + "c", d = req.method + "d", e = req.path + "e";
  const f = req.method + "f", g = req.path + "g", h = req.method + "h", i = req.path + "i";
  const q = req.queryParam("n");
  const r = n < 0 ? 0 : shadowDeep(n + 1, req);
  return r + a.length + b.length + c.length + d.length + e.length + f.length + g.length + h.length + i.length + (q === null ? 1 : 0);
}

class Shadow extends Handler {
  handle(req: Request, res: Response): void {
    res.send(200, MIME_TEXT, shadowDeep(0, req).toString());
  }
}

class Collect extends Handler {
  handle(req: Request, res: Response): void {
    // @ts-ignore: the runtime builtin asc provides
    __collect();
    res.send(200, MIME_TEXT, "collected");
  }
}

class Poll extends TimerHandler {
  constructor(public svc: HttpTcpService) { super(); }
  fire(now: u64): void { this.svc.poll(now); }
}

export function main(): i32 {
  const status = intSetting("faulty.exit", -1, 0, 63);
  if (status >= 0) return status;
  if (intSetting("faulty.main-oom", 0, 0, 1) == 1) {
    // Outside any handler: heap exhaustion here is the kernel's own, a panic.
    println("faulty: allocating without bound in main");
    for (;;) kept.push(new ArrayBuffer(1 << 20));
  }
  const stack = netStack();
  if (stack === null) { println("faulty: no network device"); return 1; }
  startManagementApi();                          // /metrics and /os/memory on port 8000
  const r = new Router();
  r.get("/ok", new Ok());
  r.get("/oob", new OutOfBounds());
  r.get("/trap", new Trap());
  r.get("/null", new NullCall());
  r.get("/unreachable", new Unreachable());
  r.get("/grow", new Grow());
  r.get("/hold", new Hold());
  r.get("/work", new Work());
  r.get("/gc", new Collect());
  r.get("/recurse", new Recurse());
  r.get("/shadow", new Shadow());
  r.post("/task", new SpawnTask());
  r.post("/timer", new ArmTimer());
  const server = new HttpServer(r);
  server.maxConnections = 32;
  const port = intSetting("faulty.port", 8080, 1, 65535);
  const svc = new HttpTcpService(server);
  if (!svc.listen(stack.tcp, <u32>port)) { println("faulty: TCP port taken"); return 2; }
  setDaemon(every(1_000_000_000, new Poll(svc)), true);
  announceListening(stack, "faulty", "TCP port " + port.toString());
  hold();
  return 0;
}
