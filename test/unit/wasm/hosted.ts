// test/unit/wasm/hosted.ts — drives kernel/lib/net/hosted.ts (skiff dev's TCP on
// host sockets) from Node: the "hosted" imports are a script in the test
// (test/unit/hosted.test.ts), the callbacks are logged here.
import { HostedNetDevice, HostedTcpLayer, HostedTcpSocket } from "../../../kernel/lib/net/hosted";
import { NetStack } from "../../../kernel/lib/net/stack";
import { NetConfig } from "../../../kernel/lib/net/config";
import { SeededEntropy } from "../../../kernel/lib/net/entropy";
import { TcpSocket, TcpHandler, TcpListener, TcpListenHandler, tcpStateName } from "../../../kernel/lib/net/socket";
export { abortHandler } from "../../../kernel/core/panic";

let log = "";
function note(s: string): void { log += (log.length > 0 ? " " : "") + s; }
export function takeLog(): string { const s = log; log = ""; return s; }

let layer: HostedTcpLayer | null = null;
let last: TcpSocket | null = null;
const listeners = new Map<u32, TcpListener>();

class Conn extends TcpHandler {
  /** What to do on readable: 0 read and log, 1 read and close at EOF. */
  constructor(public mode: i32) { super(); }
  connected(s: TcpSocket): void { note("connected:" + s.localPort.toString() + ":" + tcpStateName(s.state)); }
  readable(s: TcpSocket): void {
    const buf = new Uint8Array(64);
    let n = s.read(buf.dataStart, 64);
    while (n > 0) {
      note("read:" + String.UTF8.decodeUnsafe(buf.dataStart, <usize>n));
      n = s.read(buf.dataStart, 64);
    }
    if (n < 0) {
      note("eof:" + tcpStateName(s.state) + ":" + (s.atEof ? "atEof" : "data"));
      if (this.mode == 1) s.close();
    }
  }
  writable(s: TcpSocket): void { note("writable"); }
  closed(s: TcpSocket): void { note("closed:" + s.error.toString() + ":" + tcpStateName(s.state)); }
}

class Accept extends TcpListenHandler {
  accepted(l: TcpListener, s: TcpSocket): void {
    last = s;
    s.handler = new Conn(1);
    note("accepted:" + l.port.toString() + ":" + (<HostedTcpSocket>s).id.toString() + ":" + s.remotePort.toString() + ":" + tcpStateName(s.state));
  }
}

export function setup(): void {
  const cfg = new NetConfig();
  cfg.dhcp = false;
  cfg.addr = 0x7f000001;
  cfg.prefixLen = 8;
  const s = new NetStack(new HostedNetDevice(), new SeededEntropy(1), cfg);
  const t = new HostedTcpLayer(s.iface, s.counters, s.mem, s.entropy);
  s.tcp = t;
  s.iface.tcp = t;
  s.start(0);
  layer = t;
}

/** 1 when listening, 0 when refused. */
export function listen(port: u32): i32 {
  const l = layer!.listen(port, new Accept());
  if (l === null) return 0;
  listeners.set(port, l);
  return 1;
}
export function unlisten(port: u32): void { listeners.get(port).close(); }
export function poll(): void { layer!.poll(0); }
export function connect(port: u32): i32 {
  const s = layer!.connect(0x7f000001, port, new Conn(0));
  if (s === null) return 0;
  last = s;
  note("connecting:" + tcpStateName(s.state));
  return <i32>(<HostedTcpSocket>s).id;
}
export function write(text: string): i32 { return last!.writeString(text); }
export function close(): void { last!.close(); note("close:" + tcpStateName(last!.state)); }
export function abort(): void { last!.abort(); }
export function state(): string { return tcpStateName(last!.state); }
