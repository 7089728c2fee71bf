// test/unit/wasm/fault.ts — drives kernel/core/fault.ts from Node: an HTTP
// connection whose handlers abort (an index out of range) or trap
// (`unreachable`), over the FakeHost's guarded_call.
import { HttpServer, HttpConnection, Router, Handler, Request, Response, MIME_TEXT } from "../../../kernel/lib/http";
import { Guarded, runGuarded, faultCount, lastFaultText, FaultSite, FAULT_TRAP, FAULT_ABORT } from "../../../kernel/core/fault";

class Ok extends Handler {
  handle(req: Request, res: Response): void { res.send(200, MIME_TEXT, "ok"); }
}
class OutOfRange extends Handler {
  handle(req: Request, res: Response): void {
    const a = [1, 2, 3];
    res.send(200, MIME_TEXT, a[req.path.length].toString());
  }
}
class Unreachable extends Handler {
  handle(req: Request, res: Response): void {
    if (req.path.length > 0) unreachable();
  }
}

let conn: HttpConnection | null = null;

export function setup(): void {
  const r = new Router();
  r.get("/ok", new Ok());
  r.get("/oob", new OutOfRange());
  r.get("/trap", new Unreachable());
  conn = new HttpServer(r).open(0);
}

export function feed(buf: ArrayBuffer): i32 { return conn!.feed(changetype<usize>(buf), buf.byteLength, 0); }
export function take(): ArrayBuffer { return conn!.takeOutput().buffer; }
export function httpFaults(kind: u32): u64 { return faultCount(FaultSite.Http, kind); }
export function lastFault(): string { return lastFaultText(); }

/** Nested guarded calls: the inner one faults, the outer one carries on. */
class Inner extends Guarded {
  run(): void { unreachable(); }
}
class Outer extends Guarded {
  inner: u32 = 99;
  run(): void { this.inner = runGuarded(new Inner()); }
}
export function nested(): u32 {
  const o = new Outer();
  const code = runGuarded(o);
  return code * 1000 + o.inner;
}

export const TRAP = FAULT_TRAP;
export const ABORT = FAULT_ABORT;
