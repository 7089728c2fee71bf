// kernel/http/auth.ts — bearer-token access control for state-changing
// requests (RFC 6750 §2.1 Authorization: Bearer, §3 WWW-Authenticate) and a
// read-only switch. Failed attempts are counted and reported to an observer;
// nothing here ever writes the expected or the presented token anywhere.
import { Request } from "./request";
import { Response } from "./response";

export abstract class AuthObserver {
  /** A state-changing request was refused (status 401 or 403). */
  abstract refused(req: Request, status: i32, failures: u64): void;
}

/** Methods that change state (RFC 9110 §9.2.1: everything but the safe ones). */
export function isStateChanging(method: string): bool {
  return !(method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE");
}

export class BearerAuth {
  /** Refuse every state-changing request with 403. */
  readOnly: bool = false;
  /** Refused requests so far (bad or missing token, or read-only). */
  failures: u64 = 0;
  observer: AuthObserver | null = null;
  realm: string = "skiff";

  /** An empty token refuses every state-changing request. */
  constructor(private token: string) {}

  setToken(token: string): void { this.token = token; }
  get hasToken(): bool { return this.token.length > 0; }

  /** True when req may proceed; otherwise fills res with 401/403 and counts. */
  check(req: Request, res: Response): bool {
    if (this.readOnly) {
      res.error(403, "the endpoint is read-only");
      this.refuse(req, 403);
      return false;
    }
    const h = req.header("authorization");
    if (h !== null && this.token.length > 0 && h.length > 7 && h.substring(0, 7).toLowerCase() == "bearer ") {
      if (constantTimeEquals(h.substring(7).trim(), this.token)) return true;
      res.setHeader("WWW-Authenticate", "Bearer realm=\"" + this.realm + "\", error=\"invalid_token\"");
    } else {
      res.setHeader("WWW-Authenticate", "Bearer realm=\"" + this.realm + "\"");
    }
    res.error(401, "a valid bearer token is required");
    this.refuse(req, 401);
    return false;
  }

  private refuse(req: Request, status: i32): void {
    this.failures++;
    const o = this.observer;
    if (o !== null) o.refused(req, status, this.failures);
  }
}

/** Compares `given` (what a client sent) with `secret` in time that depends
 *  only on given's length: no early exit, and secret's characters are read
 *  cyclically, so neither how much of a guess was right nor the secret's
 *  length shows in the timing. */
export function constantTimeEquals(given: string, secret: string): bool {
  const n = secret.length;
  let diff: u32 = <u32>(given.length ^ n);
  if (n == 0) return false;
  for (let i = 0, k = 0; i < given.length; i++) {
    diff |= <u32>(given.charCodeAt(i) ^ secret.charCodeAt(k));
    k = k + 1 == n ? 0 : k + 1;
  }
  return diff == 0;
}
