// kernel/lib/http/budget.ts — one budget for the request bodies that every HTTP
// server in the guest (the apps' and the management API's) holds in memory at
// once. A request's content is charged when its header section is in, before
// any of it is read: its Content-Length, or the server's maxBody when it comes
// chunked; what does not fit is answered 503 with Retry-After and the
// connection closed unread. The charge is given back once the handler has run
// or the connection ends. So a flood of uploads gets 503s long before the
// heap is full, whatever each server's own maxBody and connection limit.
import { memoryInfo } from "../../core/mm";

export class BodyBudget {
  /** Bytes of request content that may be buffered at once (0: not sized yet). */
  limit: i64 = 0;
  used: i64 = 0;
  peak: i64 = 0;
  /** Requests answered 503 because their content did not fit. */
  refused: u64 = 0;

  /** Charges n bytes; false (and counted) when they do not fit. */
  take(n: i64): bool {
    if (n <= 0) return true;
    if (this.limit == 0) this.limit = defaultLimit();
    if (this.used + n > this.limit) { this.refused++; return false; }
    this.used += n;
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }

  give(n: i64): void {
    this.used -= n;
    if (this.used < 0) this.used = 0;
  }
}

/** A quarter of the guest's RAM, at least 1 MiB. */
function defaultLimit(): i64 {
  const q = <i64>(memoryInfo().ramBytes >> 2);
  return q > (1 << 20) ? q : 1 << 20;
}

// @ts-ignore: decorator
@lazy let budget: BodyBudget | null = null;

/** The guest's body budget; an app may size it (`bodyBudget().limit = ...`). */
export function bodyBudget(): BodyBudget {
  let b = budget;
  if (b === null) { b = new BodyBudget(); budget = b; }
  return b;
}
