// kernel/lib/net/wire/dhcp.ts — DHCP messages (RFC 2131 §2, options RFC 2132) over
// the BOOTP layout (RFC 951). Layer: wire. parse() requires the fixed 236-byte
// part and the magic cookie, and walks options with each length checked
// against the buffer; option overload (52) is not supported.
import { get8, get16, get32, set8, set16, set32, getMac, setMac } from "./bytes";
import { WireError, setWireError } from "./error";

export const DHCP_FIELD_OP = 0;
export const DHCP_FIELD_HTYPE = 1;
export const DHCP_FIELD_HLEN = 2;
export const DHCP_FIELD_HOPS = 3;
export const DHCP_FIELD_XID = 4;
export const DHCP_FIELD_SECS = 8;
export const DHCP_FIELD_FLAGS = 10;
export const DHCP_FIELD_CIADDR = 12;
export const DHCP_FIELD_YIADDR = 16;
export const DHCP_FIELD_SIADDR = 20;
export const DHCP_FIELD_GIADDR = 24;
export const DHCP_FIELD_CHADDR = 28;    // 16 bytes
export const DHCP_FIELD_SNAME = 44;     // 64 bytes
export const DHCP_FIELD_FILE = 108;     // 128 bytes
export const DHCP_FIELD_MAGIC = 236;
export const DHCP_FIELD_OPTIONS = 240;
export const DHCP_MAGIC: u32 = 0x63825363;

export const BOOTREQUEST: u32 = 1;
export const BOOTREPLY: u32 = 2;

export const DHCPDISCOVER: u32 = 1;
export const DHCPOFFER: u32 = 2;
export const DHCPREQUEST: u32 = 3;
export const DHCPDECLINE: u32 = 4;
export const DHCPACK: u32 = 5;
export const DHCPNAK: u32 = 6;
export const DHCPRELEASE: u32 = 7;

const OPT_PAD: u32 = 0;
const OPT_SUBNET: u32 = 1;
const OPT_ROUTER: u32 = 3;
const OPT_DNS: u32 = 6;
const OPT_REQUESTED_IP: u32 = 50;
const OPT_LEASE: u32 = 51;
const OPT_MSG_TYPE: u32 = 53;
const OPT_SERVER_ID: u32 = 54;
const OPT_PARAM_LIST: u32 = 55;
const OPT_MAX_SIZE: u32 = 57;
const OPT_T1: u32 = 58;
const OPT_T2: u32 = 59;
const OPT_END: u32 = 255;

export const DHCP_MAX_DNS = 3;

export class DhcpRepr {
  op: u32 = BOOTREQUEST;
  xid: u32 = 0;
  secs: u32 = 0;
  broadcast: bool = false;
  ciaddr: u32 = 0;
  yiaddr: u32 = 0;
  siaddr: u32 = 0;
  giaddr: u32 = 0;
  chaddr: u64 = 0;
  messageType: u32 = 0;
  serverId: u32 = 0;
  requestedIp: u32 = 0;
  subnetMask: u32 = 0;
  hasSubnetMask: bool = false;
  router: u32 = 0;
  dns: StaticArray<u32> = new StaticArray<u32>(DHCP_MAX_DNS);
  dnsCount: i32 = 0;
  /** Seconds; 0 when absent. */
  leaseTime: u32 = 0;
  renewalTime: u32 = 0;
  rebindingTime: u32 = 0;
  /** Emit option 55 asking for subnet, router, DNS, lease, T1, T2. */
  requestParams: bool = false;

  static parse(ptr: usize, len: i32): DhcpRepr | null {
    if (<u32>len < <u32>DHCP_FIELD_OPTIONS) { setWireError(WireError.Truncated); return null; }
    if (get32(ptr + DHCP_FIELD_MAGIC) != DHCP_MAGIC) { setWireError(WireError.BadVersion); return null; }
    if (get8(ptr + DHCP_FIELD_HTYPE) != 1 || get8(ptr + DHCP_FIELD_HLEN) != 6) { setWireError(WireError.Unsupported); return null; }
    const r = new DhcpRepr();
    r.op = get8(ptr + DHCP_FIELD_OP);
    r.xid = get32(ptr + DHCP_FIELD_XID);
    r.secs = get16(ptr + DHCP_FIELD_SECS);
    r.broadcast = (get16(ptr + DHCP_FIELD_FLAGS) & 0x8000) != 0;
    r.ciaddr = get32(ptr + DHCP_FIELD_CIADDR);
    r.yiaddr = get32(ptr + DHCP_FIELD_YIADDR);
    r.siaddr = get32(ptr + DHCP_FIELD_SIADDR);
    r.giaddr = get32(ptr + DHCP_FIELD_GIADDR);
    r.chaddr = getMac(ptr + DHCP_FIELD_CHADDR);
    let i = DHCP_FIELD_OPTIONS;
    while (i < len) {
      const code = get8(ptr + <usize>i);
      if (code == OPT_END) break;
      if (code == OPT_PAD) { i++; continue; }
      if (i + 2 > len) { setWireError(WireError.BadOption); return null; }
      const olen = <i32>get8(ptr + <usize>i + 1);
      const d = ptr + <usize>i + 2;
      if (i + 2 + olen > len) { setWireError(WireError.BadOption); return null; }
      if (code == OPT_MSG_TYPE && olen == 1) r.messageType = get8(d);
      else if (code == OPT_SUBNET && olen == 4) { r.subnetMask = get32(d); r.hasSubnetMask = true; }
      else if (code == OPT_ROUTER && olen >= 4) r.router = get32(d);   // the first router listed
      else if (code == OPT_DNS && olen >= 4) {
        r.dnsCount = 0;
        for (let k = 0; k + 4 <= olen && r.dnsCount < DHCP_MAX_DNS; k += 4) r.dns[r.dnsCount++] = get32(d + <usize>k);
      }
      else if (code == OPT_SERVER_ID && olen == 4) r.serverId = get32(d);
      else if (code == OPT_REQUESTED_IP && olen == 4) r.requestedIp = get32(d);
      else if (code == OPT_LEASE && olen == 4) r.leaseTime = get32(d);
      else if (code == OPT_T1 && olen == 4) r.renewalTime = get32(d);
      else if (code == OPT_T2 && olen == 4) r.rebindingTime = get32(d);
      i += 2 + olen;
    }
    if (r.messageType < DHCPDISCOVER || r.messageType > DHCPRELEASE) { setWireError(WireError.Unsupported); return null; }
    return r;
  }

  /** Bytes emit() writes. */
  get emitLen(): i32 {
    let n = DHCP_FIELD_OPTIONS + 3 + 1;            // message type, end
    if (this.serverId != 0) n += 6;
    if (this.requestedIp != 0) n += 6;
    if (this.requestParams) n += 2 + 6 + 4;        // parameter list, max message size
    if (this.op == BOOTREPLY) {
      if (this.hasSubnetMask) n += 6;
      if (this.router != 0) n += 6;
      if (this.dnsCount > 0) n += 2 + 4 * this.dnsCount;
      if (this.leaseTime != 0) n += 6;
      if (this.renewalTime != 0) n += 6;
      if (this.rebindingTime != 0) n += 6;
    }
    return n < 300 ? 300 : n;                      // BOOTP minimum; some relays drop shorter
  }

  emit(ptr: usize): void {
    memory.fill(ptr, 0, <usize>this.emitLen);
    set8(ptr + DHCP_FIELD_OP, this.op);
    set8(ptr + DHCP_FIELD_HTYPE, 1);
    set8(ptr + DHCP_FIELD_HLEN, 6);
    set32(ptr + DHCP_FIELD_XID, this.xid);
    set16(ptr + DHCP_FIELD_SECS, this.secs);
    set16(ptr + DHCP_FIELD_FLAGS, this.broadcast ? 0x8000 : 0);
    set32(ptr + DHCP_FIELD_CIADDR, this.ciaddr);
    set32(ptr + DHCP_FIELD_YIADDR, this.yiaddr);
    set32(ptr + DHCP_FIELD_SIADDR, this.siaddr);
    set32(ptr + DHCP_FIELD_GIADDR, this.giaddr);
    setMac(ptr + DHCP_FIELD_CHADDR, this.chaddr);
    set32(ptr + DHCP_FIELD_MAGIC, DHCP_MAGIC);
    let o = ptr + DHCP_FIELD_OPTIONS;
    set8(o, OPT_MSG_TYPE); set8(o + 1, 1); set8(o + 2, this.messageType); o += 3;
    if (this.serverId != 0) { set8(o, OPT_SERVER_ID); set8(o + 1, 4); set32(o + 2, this.serverId); o += 6; }
    if (this.requestedIp != 0) { set8(o, OPT_REQUESTED_IP); set8(o + 1, 4); set32(o + 2, this.requestedIp); o += 6; }
    if (this.requestParams) {
      set8(o, OPT_PARAM_LIST); set8(o + 1, 6);
      set8(o + 2, OPT_SUBNET); set8(o + 3, OPT_ROUTER); set8(o + 4, OPT_DNS);
      set8(o + 5, OPT_LEASE); set8(o + 6, OPT_T1); set8(o + 7, OPT_T2); o += 8;
      set8(o, OPT_MAX_SIZE); set8(o + 1, 2); set16(o + 2, 576); o += 4;
    }
    if (this.op == BOOTREPLY) {
      if (this.hasSubnetMask) { set8(o, OPT_SUBNET); set8(o + 1, 4); set32(o + 2, this.subnetMask); o += 6; }
      if (this.router != 0) { set8(o, OPT_ROUTER); set8(o + 1, 4); set32(o + 2, this.router); o += 6; }
      if (this.dnsCount > 0) {
        set8(o, OPT_DNS); set8(o + 1, <u32>(4 * this.dnsCount)); o += 2;
        for (let k = 0; k < this.dnsCount; k++) { set32(o, this.dns[k]); o += 4; }
      }
      if (this.leaseTime != 0) { set8(o, OPT_LEASE); set8(o + 1, 4); set32(o + 2, this.leaseTime); o += 6; }
      if (this.renewalTime != 0) { set8(o, OPT_T1); set8(o + 1, 4); set32(o + 2, this.renewalTime); o += 6; }
      if (this.rebindingTime != 0) { set8(o, OPT_T2); set8(o + 1, 4); set32(o + 2, this.rebindingTime); o += 6; }
    }
    set8(o, OPT_END);
  }
}
