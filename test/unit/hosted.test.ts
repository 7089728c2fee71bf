// kernel/lib/net/hosted.ts — skiff dev's TCP layer on host sockets — against a
// scripted host: the "hosted" imports (kernel/platform/hosted.ts) are
// implemented here, events are queued by the test, and the kernel's TcpLayer
// API and callbacks must come out as on a guest: accept, read until -1 at the
// peer's FIN, write, close, abort, connect, a refused connect, a taken port.
import { describe, expect, it } from "vitest";
import { FakeHost } from "../platform/host.js";
import { loadKernel } from "../platform/wasm.js";

type E = {
  setup(): void; listen(p: number): number; unlisten(p: number): void; poll(): void; connect(p: number): number;
  write(t: number): number; close(): void; abort(): void; state(): number; takeLog(): number;
  __new(n: number, id: number): number; __pin(p: number): number;
};

class ScriptedHost {
  memory!: WebAssembly.Memory;
  events: number[][] = [];
  data = new Map<number, { bytes: Buffer; eof: boolean }>();
  calls: string[] = [];
  taken = new Set<number>();
  nextConnect = 100;
  imports(): WebAssembly.Imports {
    const mem = () => new Uint8Array(this.memory.buffer);
    return {
      hosted: {
        net_listen: (port: number) => { this.calls.push(`listen ${port}`); return this.taken.has(port) ? 1 : 0; },
        net_unlisten: (port: number) => { this.calls.push(`unlisten ${port}`); },
        net_connect: (addr: number, port: number) => { this.calls.push(`connect ${(addr >>> 0).toString(16)}:${port}`); return this.nextConnect++; },
        net_send: (id: number, src: number, len: number) => {
          this.calls.push(`send ${id} ${Buffer.from(mem().subarray(src, src + len)).toString()}`);
          return len;
        },
        net_recv: (id: number, dst: number, max: number) => {
          const d = this.data.get(id);
          if (!d) return -1;
          if (max === 0) return d.bytes.length > 0 ? d.bytes.length : d.eof ? -1 : 0;
          if (d.bytes.length === 0) return d.eof ? -1 : 0;
          const n = Math.min(max, d.bytes.length);
          mem().set(d.bytes.subarray(0, n), dst);
          d.bytes = d.bytes.subarray(n);
          return n;
        },
        net_close: (id: number) => { this.calls.push(`close ${id}`); },
        net_abort: (id: number) => { this.calls.push(`abort ${id}`); },
        net_event: (out: number) => {
          const e = this.events.shift();
          if (!e) return 0;
          const dv = new DataView(this.memory.buffer);
          for (let i = 0; i < 5; i++) dv.setUint32(out + 4 * i, (e[i] ?? 0) >>> 0, true);
          return 1;
        },
      },
    };
  }
  /** Bytes (and maybe the FIN) from the peer of connection id, with its READABLE event. */
  receive(id: number, text: string, eof = false): void {
    const d = this.data.get(id) ?? { bytes: Buffer.alloc(0), eof: false };
    d.bytes = Buffer.concat([d.bytes, Buffer.from(text)]);
    d.eof ||= eof;
    this.data.set(id, d);
    this.events.push([2, id]);
  }
}

async function hosted() {
  const sh = new ScriptedHost();
  const k = await loadKernel<E>("test/unit/wasm/hosted.ts", new FakeHost(), sh.imports());
  sh.memory = k.exports.memory;
  const ex = k.exports;
  ex.setup();
  const s = (t: string) => {
    const buf = Buffer.from(t, "utf16le");
    const p = ex.__pin(ex.__new(buf.length, 2));
    new Uint8Array(ex.memory.buffer).set(buf, p);
    return p;
  };
  const log = () => k.str(ex.takeLog());
  return { sh, ex, s, log, k };
}

describe("hosted TCP layer (skiff dev)", () => {
  it("accepts, reads to the peer's FIN, answers and closes like a guest socket", async () => {
    const { sh, ex, s, log, k } = await hosted();
    expect(ex.listen(8080)).toBe(1);
    expect(sh.calls).toEqual(["listen 8080"]);
    sh.events.push([1, 7, 8080, 0x7f000001, 40000]);           // ACCEPT id 7 on 8080 from 127.0.0.1:40000
    sh.receive(7, "GET / HTTP/1.1\r\n");
    ex.poll();
    expect(log()).toBe("accepted:8080:7:40000:ESTABLISHED read:GET / HTTP/1.1\r\n");
    expect(ex.write(s("hello"))).toBe(5);
    expect(sh.calls).toContain("send 7 hello");
    sh.receive(7, "tail", true);                               // the last bytes and the FIN
    ex.poll();
    // read() gives the bytes, then -1; the handler closes: CLOSE-WAIT -> LAST-ACK.
    expect(log()).toBe("read:tail eof:CLOSE-WAIT:atEof");
    expect(sh.calls).toContain("close 7");
    expect(k.str(ex.state())).toBe("LAST-ACK");
    sh.events.push([5, 7, 0], [2, 7]);                          // CLOSED, then a stray event for the gone id
    ex.poll();
    expect(log()).toBe("closed:0:CLOSED");
    expect(ex.write(s("late"))).toBe(-1);                       // a closed socket refuses writes
  });

  it("abort tells the host and delivers closed() once, with TCP_ERR_ABORTED", async () => {
    const { sh, ex, log } = await hosted();
    ex.listen(80);
    sh.events.push([1, 3, 80, 0x7f000001, 5555]);
    ex.poll();
    log();
    ex.abort();
    expect(sh.calls).toContain("abort 3");
    expect(log()).toBe("closed:4:CLOSED");
    sh.events.push([5, 3, 2]);                                   // the host's own CLOSED comes later: ignored
    ex.poll();
    expect(log()).toBe("");
  });

  it("a connection for a port nobody listens on is aborted; a taken host port fails listen", async () => {
    const { sh, ex, log } = await hosted();
    sh.events.push([1, 9, 81, 0x7f000001, 1234]);
    ex.poll();
    expect(sh.calls).toEqual(["abort 9"]);
    expect(log()).toBe("");
    sh.taken.add(8081);
    expect(ex.listen(8081)).toBe(0);
    sh.taken.delete(8081);
    expect(ex.listen(8081)).toBe(1);                             // the failed attempt left the port free
    ex.unlisten(8081);
    expect(sh.calls.slice(-1)).toEqual(["unlisten 8081"]);
  });

  it("connect: SYN-SENT until the host connects, then ESTABLISHED with its local port; refused reports error 1", async () => {
    const { sh, ex, s, log } = await hosted();
    const id = ex.connect(9000);
    expect(id).toBe(100);
    expect(sh.calls).toEqual(["connect 7f000001:9000"]);
    expect(log()).toBe("connecting:SYN-SENT");
    expect(ex.write(s("early"))).toBe(-1);                      // not connected yet
    sh.events.push([4, id, 51000]);
    ex.poll();
    expect(log()).toBe("connected:51000:ESTABLISHED");
    expect(ex.write(s("ping"))).toBe(4);
    const id2 = ex.connect(9001);
    sh.events.push([5, id2, 1]);
    ex.poll();
    expect(log()).toBe("connecting:SYN-SENT closed:1:CLOSED");
  });
});
