// kernel/lib/http/auth.ts — bearer-token access control for state-changing
// requests (RFC 6750 §2.1 Authorization: Bearer, §3 WWW-Authenticate) and a
// read-only switch. Failed attempts are counted and reported to an observer;
// nothing here ever writes the expected or the presented token anywhere.
// Repeated wrong credentials from one peer (source address) get it blocked
// for a growing time (AuthThrottle): 429 with Retry-After (RFC 6585 §4).
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

/** Slows down guessing: a peer that presents wrong credentials maxFailures
 *  times within windowNs is blocked for firstBlockNs; each wrong attempt
 *  after a block (until a window passes without one) blocks it again for
 *  twice as long, up to maxBlockNs. While blocked, every request of the peer
 *  that needs the token is answered 429 with Retry-After, without looking at
 *  the token — so a right guess made during a block is not recognised, and
 *  guessing is held to a few attempts per block. Requests without
 *  credentials (the usual first step, answered 401 with the challenge) do
 *  not count. Peers are kept in a table of `capacity` entries; when it is
 *  full the least recently seen peer that is not blocked makes room (any
 *  peer, when all are), so many source addresses cannot grow memory.
 *  Peer 0 (unknown, e.g. the host-only channel) is never throttled.
 *  Behind NAT (QEMU's user networking) every client is one peer: a blocked
 *  peer is blocked for all of them — the host-only channel is unaffected. */
export class AuthThrottle {
  maxFailures: i32 = 10;
  windowNs: u64 = 60_000_000_000;
  firstBlockNs: u64 = 1_000_000_000;
  maxBlockNs: u64 = 300_000_000_000;
  /** Requests answered 429. */
  throttled: u64 = 0;
  /** Blocks begun. */
  blocks: u64 = 0;
  /** Peers dropped from the full table to make room. */
  dropped: u64 = 0;

  private peer: StaticArray<u32>;
  private fails: StaticArray<i32>;
  private strikes: StaticArray<i32>;
  private windowStart: StaticArray<u64>;
  private blockedUntil: StaticArray<u64>;
  private lastSeen: StaticArray<u64>;
  private used: i32 = 0;

  constructor(public capacity: i32 = 64) {
    if (capacity < 1) this.capacity = capacity = 1;
    this.peer = new StaticArray<u32>(capacity);
    this.fails = new StaticArray<i32>(capacity);
    this.strikes = new StaticArray<i32>(capacity);
    this.windowStart = new StaticArray<u64>(capacity);
    this.blockedUntil = new StaticArray<u64>(capacity);
    this.lastSeen = new StaticArray<u64>(capacity);
  }

  /** Peers in the table. */
  get size(): i32 { return this.used; }

  /** Peers blocked at nowNs. */
  blockedPeers(nowNs: u64): i32 {
    let n = 0;
    for (let i = 0; i < this.used; i++) if (unchecked(this.blockedUntil[i]) > nowNs) n++;
    return n;
  }

  private find(peer: u32): i32 {
    for (let i = 0; i < this.used; i++) if (unchecked(this.peer[i]) == peer) return i;
    return -1;
  }

  /** How long peer stays blocked from nowNs (0: not blocked). */
  blockedFor(peer: u32, nowNs: u64): u64 {
    if (peer == 0) return 0;
    const i = this.find(peer);
    if (i < 0) return 0;
    const until = unchecked(this.blockedUntil[i]);
    return until > nowNs ? until - nowNs : 0;
  }

  /** peer presented wrong credentials at nowNs. */
  failed(peer: u32, nowNs: u64): void {
    if (peer == 0) return;
    let i = this.find(peer);
    if (i < 0) i = this.insert(peer, nowNs);
    unchecked(this.lastSeen[i] = nowNs);
    // A window without failures after the last block forgives the strikes.
    if (unchecked(this.strikes[i]) > 0 && nowNs > unchecked(this.blockedUntil[i]) + this.windowNs) unchecked(this.strikes[i] = 0);
    if (nowNs - unchecked(this.windowStart[i]) > this.windowNs) {
      unchecked(this.windowStart[i] = nowNs);
      unchecked(this.fails[i] = 0);
    }
    const f = unchecked(this.fails[i]) + 1;
    unchecked(this.fails[i] = f);
    const strikes = unchecked(this.strikes[i]);
    if (f < this.maxFailures && strikes == 0) return;
    let d = this.firstBlockNs;
    for (let k = 0; k < strikes && d < this.maxBlockNs; k++) d <<= 1;
    if (d > this.maxBlockNs) d = this.maxBlockNs;
    unchecked(this.blockedUntil[i] = nowNs + d);
    unchecked(this.strikes[i] = strikes + 1);
    unchecked(this.fails[i] = 0);
    unchecked(this.windowStart[i] = nowNs);
    this.blocks++;
  }

  /** peer presented the right credentials: its record is dropped. */
  succeeded(peer: u32): void {
    if (peer == 0) return;
    const i = this.find(peer);
    if (i >= 0) this.remove(i);
  }

  private insert(peer: u32, nowNs: u64): i32 {
    if (this.used == this.capacity) {
      // The least recently seen unblocked peer, else the least recently seen.
      let victim = -1, any = 0;
      for (let k = 0; k < this.used; k++) {
        const seen = unchecked(this.lastSeen[k]);
        if (seen < unchecked(this.lastSeen[any])) any = k;
        if (unchecked(this.blockedUntil[k]) <= nowNs && (victim < 0 || seen < unchecked(this.lastSeen[victim]))) victim = k;
      }
      this.remove(victim >= 0 ? victim : any);
      this.dropped++;
    }
    const i = this.used++;
    unchecked(this.peer[i] = peer);
    unchecked(this.fails[i] = 0);
    unchecked(this.strikes[i] = 0);
    unchecked(this.windowStart[i] = nowNs);
    unchecked(this.blockedUntil[i] = 0);
    unchecked(this.lastSeen[i] = nowNs);
    return i;
  }

  private remove(i: i32): void {
    const last = --this.used;
    if (i == last) return;
    unchecked(this.peer[i] = unchecked(this.peer[last]));
    unchecked(this.fails[i] = unchecked(this.fails[last]));
    unchecked(this.strikes[i] = unchecked(this.strikes[last]));
    unchecked(this.windowStart[i] = unchecked(this.windowStart[last]));
    unchecked(this.blockedUntil[i] = unchecked(this.blockedUntil[last]));
    unchecked(this.lastSeen[i] = unchecked(this.lastSeen[last]));
  }
}

export class BearerAuth {
  /** Refuse every state-changing request with 403. */
  readOnly: bool = false;
  /** Refused requests so far (bad or missing token, or read-only). */
  failures: u64 = 0;
  observer: AuthObserver | null = null;
  realm: string = "skiff";
  /** Per-peer slow-down of wrong credentials; null: none. */
  throttle: AuthThrottle | null = new AuthThrottle();

  /** An empty token refuses every state-changing request. */
  constructor(private token: string) {}

  setToken(token: string): void { this.token = token; }
  get hasToken(): bool { return this.token.length > 0; }

  /** True when req may proceed; otherwise fills res with 401/403 and counts. */
  check(req: Request, res: Response): bool {
    const th = this.throttle;
    if (th !== null) {
      const wait = th.blockedFor(req.peer, req.nowNs);
      if (wait > 0) {
        th.throttled++;
        res.setHeader("Retry-After", ((wait + 999_999_999) / 1_000_000_000).toString());
        res.error(429, "too many failed authentication attempts from this address; try again later");
        const o = this.observer;
        if (o !== null) o.refused(req, 429, this.failures);
        return false;
      }
    }
    if (this.readOnly) {
      res.error(403, "the endpoint is read-only");
      this.refuse(req, 403);
      return false;
    }
    const h = req.header("authorization");
    if (h !== null && this.token.length > 0 && h.length > 7 && h.substring(0, 7).toLowerCase() == "bearer ") {
      if (constantTimeEquals(h.substring(7).trim(), this.token)) {
        if (th !== null) th.succeeded(req.peer);
        return true;
      }
      res.setHeader("WWW-Authenticate", "Bearer realm=\"" + this.realm + "\", error=\"invalid_token\"");
    } else {
      res.setHeader("WWW-Authenticate", "Bearer realm=\"" + this.realm + "\"");
    }
    // Credentials that were presented and wrong count towards a block.
    if (h !== null && th !== null) th.failed(req.peer, req.nowNs);
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
