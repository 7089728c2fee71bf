// kernel/lib/http/router.ts — method + path routing with {param} segments and a
// trailing {name...} that takes the rest of the path. 404 when no pattern
// matches the path, 405 with Allow when patterns match but not the method
// (RFC 9110 §15.5.6); HEAD falls back to GET (§9.3.2) and OPTIONS is answered
// from the table (§9.3.7). The route table is also what the OpenAPI document
// is generated from, so documentation and behaviour cannot drift apart.
import { Request, percentDecode, charIndex } from "./request";
import { Response, Handler } from "./response";
import { BearerAuth, isStateChanging } from "./auth";

/** A route handler as a plain function: `function hello(req: Request, res:
 *  Response): void { ... }`. AssemblyScript functions capture nothing, so
 *  state lives in module globals or in a Handler object's fields. */
export type HandlerFn = (req: Request, res: Response) => void;

/** Runs a HandlerFn as a Handler. */
export class FnHandler extends Handler {
  constructor(public fn: HandlerFn) { super(); }
  handle(req: Request, res: Response): void { this.fn(req, res); }
}

/** A Handler from either a plain function `(req: Request, res: Response) =>
 *  void` or a Handler object, decided at compile time. Anything else is a
 *  compile error that says what to pass. */
export function toHandler<T>(h: T): Handler {
  if (isFunction<T>()) {
    return new FnHandler(<HandlerFn>h);
  } else if (isReference<T>()) {
    if (h instanceof Handler) return changetype<Handler>(h);
    ERROR("A route handler is a function (req: Request, res: Response) => void or an object of a class that extends Handler (no closures: keep state in module variables or the object's fields; see docs/APPS.md)");
  } else {
    ERROR("A route handler is a function (req: Request, res: Response) => void or an object of a class that extends Handler (see docs/APPS.md)");
  }
  return unreachable();
}

export class Route {
  segments: string[] = [];
  /** Per segment: true when it is a {param}. */
  isParam: bool[] = [];
  /** The last segment is {name...}: matches one or more remaining segments. */
  greedy: bool = false;
  paramNames: string[] = [];
  /** One-line description (OpenAPI summary). */
  summary: string = "";
  /** Grouping for the document (OpenAPI tag), e.g. "os". */
  tag: string = "";
  /** Requires the bearer token; defaults to true for state-changing methods. */
  auth: bool = false;
  /** Media type of a successful response. */
  produces: string = "application/json";
  /** JSON Schema (as JSON text) of a successful response, or null. */
  responseSchema: string | null = null;
  /** JSON Schema of the request body, or null when it takes none. */
  requestSchema: string | null = null;
  /** Media type of the request body. */
  consumes: string = "application/json";
  /** Query parameters the operation reads (documentation only). */
  queryParams: string[] = [];
  /** Status of a successful response, for the document. */
  okStatus: i32 = 200;

  constructor(public method: string, public pattern: string, public handler: Handler) {
    this.auth = isStateChanging(method);
    const segs = pattern.substring(1).split("/");
    for (let i = 0; i < segs.length; i++) {
      let s = unchecked(segs[i]);
      const param = s.length > 2 && s.charCodeAt(0) == 0x7b && s.charCodeAt(s.length - 1) == 0x7d;
      if (param) {
        s = s.substring(1, s.length - 1);
        if (s.endsWith("...") && i == segs.length - 1) { this.greedy = true; s = s.substring(0, s.length - 3); }
        this.paramNames.push(s);
      }
      this.segments.push(s);
      this.isParam.push(param);
    }
  }

  describe(summary: string, tag: string): Route { this.summary = summary; this.tag = tag; return this; }
  returns(schemaJson: string): Route { this.responseSchema = schemaJson; return this; }
  accepts(schemaJson: string): Route { this.requestSchema = schemaJson; return this; }
  query(name: string): Route { this.queryParams.push(name); return this; }
  producing(mediaType: string): Route { this.produces = mediaType; return this; }
  status(code: i32): Route { this.okStatus = code; return this; }
  noAuth(): Route { this.auth = false; return this; }

  /** Score of a match of a path's segments (higher is more specific), or -1. */
  match(segs: PathSegs): i32 {
    const n = this.segments.length;
    const count = segs.count;
    if (this.greedy ? count < n : count != n) return -1;
    let score = 0;
    for (let i = 0; i < n; i++) {
      if (unchecked(this.isParam[i])) {
        if (segs.isEmpty(i)) return -1;   // a parameter is never empty
        score += 1;
      } else {
        if (!segs.equals(i, unchecked(this.segments[i]))) return -1;
        score += 4;
      }
    }
    return this.greedy ? score : score + 1;
  }

  /** Binds the parameters of a path match() accepted. */
  bind(req: Request, segs: PathSegs): void {
    const names = this.paramNames;
    if (names.length == 0) return;
    const values = new Array<string>(names.length);
    const n = this.segments.length;
    let k = 0;
    for (let i = 0; i < n && k < names.length; i++) {
      if (!unchecked(this.isParam[i])) continue;
      unchecked(values[k++] = this.greedy && i == n - 1 ? segs.rest(i) : segs.at(i));
    }
    req.bindParams(names, values);
  }
}

export class Router extends Handler {
  routes: Route[] = [];
  /** Checked for routes with auth set; null lets everything through. */
  auth: BearerAuth | null = null;
  /** The current request's path segments (reused: routing allocates nothing
   *  for a path without escapes). */
  private segs: PathSegs = new PathSegs();

  /** Adds a route; handler is a plain function (HandlerFn) or a Handler
   *  object. pattern: "/items/{id}", or "/files/{path...}" for the rest. */
  add<T>(method: string, pattern: string, handler: T): Route {
    const r = new Route(method, pattern, toHandler<T>(handler));
    this.routes.push(r);
    return r;
  }

  get<T>(pattern: string, h: T): Route { return this.add<T>("GET", pattern, h); }
  post<T>(pattern: string, h: T): Route { return this.add<T>("POST", pattern, h); }
  put<T>(pattern: string, h: T): Route { return this.add<T>("PUT", pattern, h); }
  patch<T>(pattern: string, h: T): Route { return this.add<T>("PATCH", pattern, h); }
  delete<T>(pattern: string, h: T): Route { return this.add<T>("DELETE", pattern, h); }

  handle(req: Request, res: Response): void {
    if (req.path == "*") {   // OPTIONS * asks about the server as a whole
      res.setHeader("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
      res.empty(204);
      return;
    }
    const segs = this.segs;
    if (!segs.set(req.path)) { res.error(400, "malformed path"); return; }
    const best = this.pick(req.method, segs, null);
    if (best === null) {
      const allowed = new Array<string>();
      this.pick(req.method, segs, allowed);
      if (allowed.length == 0) { res.error(404, "no such resource"); return; }
      if (allowed.includes("GET") && !allowed.includes("HEAD")) allowed.push("HEAD");
      if (!allowed.includes("OPTIONS")) allowed.push("OPTIONS");
      res.setHeader("Allow", allowed.join(", "));
      if (req.method == "OPTIONS") { res.empty(204); return; }
      res.error(405, "method not allowed");
      return;
    }
    const r = best;
    req.route = r.pattern;
    r.bind(req, segs);
    const auth = this.auth;
    if (r.auth && auth !== null && !req.authorized && !auth.check(req, res)) return;
    r.handler.handle(req, res);
  }

  /** The route for method and path segments: the most specific match for the
   *  method, or for HEAD the most specific GET (RFC 9110 §9.3.2). allowed, if
   *  given, collects the methods whose patterns match the path. */
  private pick(method: string, segs: PathSegs, allowed: string[] | null): Route | null {
    let best: Route | null = null;
    let bestScore = -1;
    let getRoute: Route | null = null;
    let getScore = -1;
    for (let i = 0; i < this.routes.length; i++) {
      const r = unchecked(this.routes[i]);
      const sc = r.match(segs);
      if (sc < 0) continue;
      if (allowed !== null && !allowed.includes(r.method)) allowed.push(r.method);
      if (r.method == method && sc > bestScore) { best = r; bestScore = sc; }
      if (r.method == "GET" && sc > getScore) { getRoute = r; getScore = sc; }
    }
    if (best === null && method == "HEAD") best = getRoute;
    return best;
  }

  /** Checks the token as soon as the headers are in, so an unauthenticated
   *  client gets 401 before its body is read or 100 Continue is sent. */
  admit(req: Request, res: Response): bool {
    const auth = this.auth;
    if (auth === null) return true;
    const segs = this.segs;
    if (!segs.set(req.path)) return true;        // handle() answers 400
    const best = this.pick(req.method, segs, null);
    if (best === null || !best.auth) return true;
    req.route = best.pattern;                    // for the metrics of a refusal
    if (!auth.check(req, res)) return false;
    req.authorized = true;
    return true;
  }
}

/** Splits an origin-form path into percent-decoded segments; null when it is
 *  not absolute, has a bad escape, or has a "." or ".." segment (which would
 *  let a {name...} parameter climb out of a directory). */
export function splitPath(path: string): string[] | null {
  const len = path.length;
  if (len == 0 || path.charCodeAt(0) != 0x2f) return null;
  let count = 1;
  for (let i = 1; i < len; i++) if (path.charCodeAt(i) == 0x2f) count++;
  const out = new Array<string>(count);
  let start = 1;
  for (let k = 0; k < count; k++) {
    let end = path.indexOf("/", start);
    if (end < 0) end = len;
    const d = percentDecode(path.substring(start, end), false);
    if (d === null || d == "." || d == "..") return null;
    unchecked(out[k] = d);
    start = end + 1;
  }
  return out;
}

/** A path's segments for routing, found where they lie: for a path without
 *  a percent escape (nearly every request) as offsets into it, so matching
 *  makes no strings; otherwise decoded once (splitPath). One per Router,
 *  reused from request to request. */
export class PathSegs {
  private path: string = "";
  /** Segment i is path[starts[i], ends[i]) (a path without escapes). */
  private starts: i32[] = new Array<i32>();
  private ends: i32[] = new Array<i32>();
  /** The decoded segments of a path with escapes; null otherwise. */
  private decoded: string[] | null = null;
  count: i32 = 0;

  /** Takes path; false when it is not absolute, has a bad escape or a "."
   *  or ".." segment (the same refusals as splitPath). */
  set(path: string): bool {
    this.path = path;
    this.decoded = null;
    this.count = 0;
    const len = path.length;
    if (len == 0 || path.charCodeAt(0) != 0x2f) return false;
    if (charIndex(path, 0x25) >= 0) {
      const d = splitPath(path);
      if (d === null) return false;
      this.decoded = d;
      this.count = d.length;
      return true;
    }
    const starts = this.starts, ends = this.ends;
    starts.length = 0;
    ends.length = 0;
    let start = 1;
    while (true) {
      let end = charIndex(path, 0x2f, start);
      if (end < 0) end = len;
      const n = end - start;
      if (n == 1 && path.charCodeAt(start) == 0x2e) return false;                                       // "."
      if (n == 2 && path.charCodeAt(start) == 0x2e && path.charCodeAt(start + 1) == 0x2e) return false;  // ".."
      starts.push(start);
      ends.push(end);
      if (end == len) break;
      start = end + 1;
    }
    this.count = starts.length;
    return true;
  }

  isEmpty(i: i32): bool {
    const d = this.decoded;
    if (d !== null) return unchecked(d[i]).length == 0;
    return unchecked(this.ends[i]) == unchecked(this.starts[i]);
  }

  /** Segment i is lit. */
  equals(i: i32, lit: string): bool {
    const d = this.decoded;
    if (d !== null) return unchecked(d[i]) == lit;
    const a = unchecked(this.starts[i]), n = unchecked(this.ends[i]) - a;
    if (n != lit.length) return false;
    return memory.compare(changetype<usize>(this.path) + (<usize>a << 1), changetype<usize>(lit), <usize>n << 1) == 0;
  }

  /** Segment i, decoded. */
  at(i: i32): string {
    const d = this.decoded;
    if (d !== null) return unchecked(d[i]);
    return this.path.substring(unchecked(this.starts[i]), unchecked(this.ends[i]));
  }

  /** Segments i.. joined by "/" (a {name...} parameter). */
  rest(i: i32): string {
    const d = this.decoded;
    if (d !== null) return i == d.length - 1 ? unchecked(d[i]) : d.slice(i).join("/");
    return this.path.substring(unchecked(this.starts[i]));
  }
}
