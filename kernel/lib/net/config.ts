// kernel/lib/net/config.ts — network configuration from the boot command line:
// `ip=ADDR/PREFIX gateway=ADDR dns=ADDR` gives a static address (which wins
// over DHCP); without ip= the stack runs DHCP. `ip=none` leaves it unconfigured.
import { parseIp } from "./wire";

export class NetConfig {
  dhcp: bool = true;
  addr: u32 = 0;
  prefixLen: i32 = 24;
  gateway: u32 = 0;
  dns: u32 = 0;
  /** Problems found in the command line, for the boot log (never fatal). */
  problems: Array<string> = [];
}

/** Reads ip=, gateway=, dns= values (null: absent). Bad values are reported
 *  in problems and fall back to DHCP. */
export function parseNetConfig(ip: string | null, gateway: string | null, dns: string | null): NetConfig {
  const c = new NetConfig();
  const ok = new StaticArray<bool>(1);
  if (ip != null) {
    if (ip == "none") { c.dhcp = false; return c; }
    if (ip == "dhcp") return c;
    const slash = ip.indexOf("/");
    const a = parseIp(slash < 0 ? ip : ip.substring(0, slash), ok);
    let prefix = 24;
    let good = ok[0];
    if (good && slash >= 0) {
      const p = ip.substring(slash + 1);
      prefix = 0;
      if (p.length == 0 || p.length > 2) good = false;
      for (let i = 0; i < p.length; i++) {
        const ch = p.charCodeAt(i);
        if (ch < 48 || ch > 57) { good = false; break; }
        prefix = prefix * 10 + (ch - 48);
      }
      if (prefix < 1 || prefix > 32) good = false;
    }
    if (good && a != 0) {
      c.dhcp = false;
      c.addr = a;
      c.prefixLen = prefix;
    } else {
      c.problems.push("ip=" + ip + ": expected ADDR/PREFIX such as 10.0.2.15/24; using DHCP");
    }
  }
  if (gateway != null) {
    const g = parseIp(gateway, ok);
    if (ok[0]) c.gateway = g; else c.problems.push("gateway=" + gateway + ": not an IPv4 address; ignored");
  }
  if (dns != null) {
    const d = parseIp(dns, ok);
    if (ok[0]) c.dns = d; else c.problems.push("dns=" + dns + ": not an IPv4 address; ignored");
  }
  return c;
}
