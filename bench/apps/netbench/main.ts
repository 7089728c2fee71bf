// bench/apps/netbench — the guest half of bench/net.ts (issue #5): three TCP
// services the host drives, the same ones the Linux reference guest offers
// with busybox nc, so both are measured by one client:
//   port 7  echo    (RFC 862)  round trips and connections per second
//   port 9  discard (RFC 863)  host → guest throughput: read and drop
//   port 19 source  (RFC 864-like, zeros)  guest → host throughput: write
//           until the host closes
// Everything runs from the event loop through the socket API; one handler
// object per service (none keeps per-connection state).
import {
  println, hold, netStack, tcpListen, ipToString,
  TcpListenHandler, TcpHandler, TcpListener, TcpSocket,
} from "skiff";

const buf = new Uint8Array(16384);        // zeros: what the source sends

class Echo extends TcpHandler {
  readable(s: TcpSocket): void { this.pump(s); }
  writable(s: TcpSocket): void { this.pump(s); }
  pump(s: TcpSocket): void {
    while (true) {
      const room = s.writableBytes;
      if (room == 0 && !s.atEof) return;
      const n = s.read(buf.dataStart, room < buf.length ? room : buf.length);
      if (n < 0) { s.close(); return; }
      if (n == 0) return;
      s.write(buf.dataStart, n);
    }
  }
}

class Discard extends TcpHandler {
  readable(s: TcpSocket): void {
    while (true) {
      const n = s.read(buf.dataStart, buf.length);
      if (n < 0) { s.close(); return; }       // the host finished sending: close, it waits for that
      if (n == 0) return;
    }
  }
}

class Source extends TcpHandler {
  readable(s: TcpSocket): void {
    while (true) {
      const n = s.read(buf.dataStart, buf.length);
      if (n < 0) { s.abort(); return; }       // the host has what it wanted
      if (n == 0) break;
    }
    this.writable(s);
  }
  writable(s: TcpSocket): void {
    while (s.writableBytes > 0) {
      const room = s.writableBytes;
      if (s.write(buf.dataStart, room < buf.length ? room : buf.length) <= 0) return;
    }
  }
  closed(s: TcpSocket): void {}
}

class Service extends TcpListenHandler {
  constructor(public h: TcpHandler) { super(); }
  accepted(l: TcpListener, s: TcpSocket): void {
    s.handler = this.h;
    this.h.writable(s);
    this.h.readable(s);
  }
}

export function main(): i32 {
  const stack = netStack();
  if (stack == null) { println("netbench: no network device"); return 1; }
  // Bigger buffers than the 32 KiB default would help throughput; the default
  // is what apps get, so that is what is measured.
  if (tcpListen(7, new Service(new Echo()), 128) == null) return 2;
  if (tcpListen(9, new Service(new Discard()), 128) == null) return 3;
  if (tcpListen(19, new Service(new Source()), 128) == null) return 4;
  const a = stack.iface.addr;
  println("netbench: ready on TCP 7 (echo), 9 (discard), 19 (source)" + (a != 0 ? " at " + ipToString(a) : ""));
  hold();
  return 0;
}
