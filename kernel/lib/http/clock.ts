// kernel/lib/http/clock.ts — wall-clock time for the Date header (RFC 9110 §6.6.1)
// and IMF-fixdate formatting (§5.6.7). Time is passed in: the server only ever
// sees the monotonic nowNs its caller gives it, and asks a WallClock to map
// that to Unix time.

export abstract class WallClock {
  /** Seconds since 1970-01-01T00:00:00Z at monotonic time nowNs, or -1 when
   *  the time of day is unknown (then no Date header is sent, per §6.6.1). */
  abstract unixSeconds(nowNs: u64): i64;
}

/** A wall clock set once: Unix time at a known monotonic instant. */
export class FixedOffsetClock extends WallClock {
  constructor(public unixAtZeroNs: i64) { super(); }
  unixSeconds(nowNs: u64): i64 {
    if (this.unixAtZeroNs < 0) return -1;
    return (this.unixAtZeroNs + <i64>nowNs) / 1_000_000_000;
  }
}

// @ts-ignore: decorator
@lazy
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
// @ts-ignore: decorator
@lazy
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Civil date from days since the epoch (H. Hinnant's days_from_civil inverse). */
export class CivilTime {
  year: i64 = 1970; month: i32 = 1; day: i32 = 1;
  hour: i32 = 0; minute: i32 = 0; second: i32 = 0; weekday: i32 = 4;   // 0 = Sunday

  static fromUnix(t: i64): CivilTime {
    const c = new CivilTime();
    let days = t / 86400;
    let secs = t % 86400;
    if (secs < 0) { secs += 86400; days--; }
    c.hour = <i32>(secs / 3600);
    c.minute = <i32>((secs % 3600) / 60);
    c.second = <i32>(secs % 60);
    c.weekday = <i32>(((days % 7) + 11) % 7);   // 1970-01-01 (day 0) was a Thursday (4)
    const z = days + 719468;
    const era = (z >= 0 ? z : z - 146096) / 146097;
    const doe = z - era * 146097;
    const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const mp = (5 * doy + 2) / 153;
    c.day = <i32>(doy - (153 * mp + 2) / 5 + 1);
    c.month = <i32>(mp < 10 ? mp + 3 : mp - 9);
    c.year = yoe + era * 400 + (c.month <= 2 ? 1 : 0);
    return c;
  }
}

function pad2(v: i32): string { return v < 10 ? "0" + v.toString() : v.toString(); }
function pad4(v: i64): string {
  let s = v.toString();
  while (s.length < 4) s = "0" + s;
  return s;
}

/** IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7). */
export function httpDate(unixSeconds: i64): string {
  const c = CivilTime.fromUnix(unixSeconds);
  return DAYS[c.weekday] + ", " + pad2(c.day) + " " + MONTHS[c.month - 1] + " " + pad4(c.year) + " " +
    pad2(c.hour) + ":" + pad2(c.minute) + ":" + pad2(c.second) + " GMT";
}

/** RFC 3339 UTC, e.g. "1994-11-06T08:49:37Z". */
export function isoDate(unixSeconds: i64): string {
  const c = CivilTime.fromUnix(unixSeconds);
  return pad4(c.year) + "-" + pad2(c.month) + "-" + pad2(c.day) + "T" + pad2(c.hour) + ":" + pad2(c.minute) + ":" +
    pad2(c.second) + "Z";
}
