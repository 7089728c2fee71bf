// kernel/api/policy.ts — who may use the management API on the network
// (api.net=on): every request but one for /health needs the bearer token,
// GETs included (/env, /config, /os/cmdline and /os/dmesg tell an attacker a
// lot), and so do unknown paths and OPTIONS, so nothing is learnt without it.
// The check runs in admit(), once the headers are in: before any body is read
// or 100 Continue sent (RFC 9110 §10.1.1). The host-only channel
// (hostchannel.ts) does not pass through here: its socket's permissions decide.
import { Handler, Request, Response, Router, BearerAuth, isStateChanging, PathSegs } from "../lib/http";

/** The one path served on the network without the token: liveness, for
 *  load balancers and orchestrators' probes. It says nothing but "ok" and
 *  the uptime. */
// @ts-ignore: decorator
@lazy
export const OPEN_PATH = "/health";

/** True when a request for path (as sent, still percent-encoded) needs the
 *  token on the network. Only the exact path "/health" is open: an encoded
 *  spelling of it is refused rather than decoded here. */
export function needsToken(path: string): bool {
  return path != OPEN_PATH;
}

/** The network listener's handler: the policy above, then inner (the router,
 *  whose own token check is off). readOnly (api.readonly) refuses state
 *  changes with 403 once the token is good, so an anonymous client cannot
 *  even learn that the endpoint is read-only. */
export class NetworkGate extends Handler {
  constructor(public inner: Router, public auth: BearerAuth, public readOnly: bool) { super(); }

  admit(req: Request, res: Response): bool {
    if (needsToken(req.path) && !req.authorized && !this.pass(req, res)) return false;
    return this.inner.admit(req, res);
  }

  handle(req: Request, res: Response): void {
    // admit() ran first for every request the server parses; checked again
    // for a caller that goes straight to handle().
    if (needsToken(req.path) && !req.authorized && !this.pass(req, res)) return;
    this.inner.handle(req, res);
  }

  /** The token check (constant time, kernel/lib/http/auth.ts), then read-only. */
  private pass(req: Request, res: Response): bool {
    req.route = routeOf(this.inner, req);          // for the metrics of a refusal
    if (!this.auth.check(req, res)) return false;
    if (this.readOnly && isStateChanging(req.method)) {
      res.error(403, "the endpoint is read-only");
      this.auth.failures++;
      const o = this.auth.observer;
      if (o !== null) o.refused(req, 403, this.auth.failures);
      return false;
    }
    req.authorized = true;
    return true;
  }
}

/** The pattern of the route req would reach (for HEAD, a GET's), or "". */
function routeOf(router: Router, req: Request): string {
  const segs = new PathSegs();
  if (!segs.set(req.path)) return "";
  let best = "";
  let bestScore = -1;
  for (let i = 0; i < router.routes.length; i++) {
    const r = unchecked(router.routes[i]);
    if (r.method != req.method && !(req.method == "HEAD" && r.method == "GET")) continue;
    const sc = r.match(segs);
    if (sc > bestScore) { best = r.pattern; bestScore = sc; }
  }
  return best;
}
