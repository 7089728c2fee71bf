// kernel/drivers/virtio/console.ts — virtio console driver (virtio 1.2 §5.3). Port 0 is
// a second kernel console: a ConsoleSink that gets every byte the kernel
// prints, sent a line (or 256 bytes) at a time. When the device offers
// VIRTIO_CONSOLE_F_MULTIPORT (QEMU's virtio-serial does when it has more than
// one port) the driver also runs the control queues (§5.3.6.2) and drives
// named ports as byte streams: a SerialPortHandler registered for a name with
// onSerialPort() gets the port's bytes, its host side connecting and going,
// and room to write. The management API's host-only channel is such a port.
//
// Queues (§5.3.2): 0/1 port 0 receive/transmit; with MULTIPORT 2/3 control
// receive/transmit, then 4/5 port 1, 6/7 port 2, ... Only the first
// MAX_PORTS ports are set up; the rest stay without queues.
import { VirtioDevice } from "./device";
import { Transport } from "./transport/transport";
import { dmaAlloc, physAddr } from "./dma";
import { SplitQueue } from "./queue";
import { ConsoleSink } from "../../core/console";

const SLOT: u32 = 256;
const NSLOTS: u32 = 16;
const TXQ: i32 = 1;

/** Feature bit: the device has several ports and the control queues (§5.3.3). */
const F_MULTIPORT: u32 = 1;
/** Ports driven (port 0 and up to 3 named ports). */
const MAX_PORTS: u32 = 4;

// struct virtio_console_control { le32 id; le16 event; le16 value; } (§5.3.6.2)
const CTRL_HDR: u32 = 8;
const EV_DEVICE_READY: u32 = 0;
const EV_DEVICE_ADD: u32 = 1;
const EV_DEVICE_REMOVE: u32 = 2;
const EV_PORT_READY: u32 = 3;
const EV_CONSOLE_PORT: u32 = 4;
const EV_PORT_OPEN: u32 = 6;
const EV_PORT_NAME: u32 = 7;

const CTRL_RX_SLOTS: u32 = 8;
const CTRL_RX_BYTES: u32 = 128;   // a name longer than 120 bytes is cut
const CTRL_TX_SLOTS: u32 = 16;
/** Per named port: receive buffers posted, transmit buffers in flight. */
const PORT_RX_SLOTS: u32 = 4;
const PORT_TX_SLOTS: u32 = 8;
const PORT_BUF: u32 = 4096;

/** What a named port's user hears; runs on the event loop. */
export abstract class SerialPortHandler {
  /** The host side connected (a client on QEMU's socket) or went away: a new
   *  byte stream starts with each connection. */
  abstract hostChanged(port: SerialPort, connected: bool): void;
  /** Bytes from the host, valid only during the call. */
  abstract received(port: SerialPort, ptr: usize, len: i32): void;
  /** Transmit buffers came back: write() may take more now. */
  abstract writable(port: SerialPort): void;
}

export class SerialPort {
  name: string = "";
  hostConnected: bool = false;
  handler: SerialPortHandler | null = null;
  bytesIn: u64 = 0;
  bytesOut: u64 = 0;
  rx: SplitQueue | null = null;
  tx: SplitQueue | null = null;
  rxMem: usize = 0;
  txMem: usize = 0;
  txFree: StaticArray<u32> = new StaticArray<u32>(PORT_TX_SLOTS);
  ntxFree: u32 = 0;

  constructor(public dev: VirtioConsole, public id: u32) {}

  /** Copies up to len bytes into transmit buffers; returns how many were
   *  taken (0 when all buffers are in flight: wait for writable()). Bytes
   *  written while no host is connected are dropped by the device. */
  write(ptr: usize, len: i32): i32 {
    const q = this.tx;
    if (q === null || len <= 0) return 0;
    let done = 0;
    while (done < len && this.ntxFree > 0) {
      const slot = this.txFree[--this.ntxFree];
      const p = this.txMem + <usize>(slot * PORT_BUF);
      const n = len - done < <i32>PORT_BUF ? len - done : <i32>PORT_BUF;
      memory.copy(p, ptr + <usize>done, <usize>n);
      q.push(physAddr(p), <u32>n, false);
      if (q.submit(slot) < 0) { this.txFree[this.ntxFree++] = slot; break; }
      done += n;
    }
    if (done > 0) { this.dev.kick(q); this.bytesOut += <u64>done; }
    return done;
  }

  /** Bytes write() would take now. */
  get writableBytes(): i32 { return <i32>(this.ntxFree * PORT_BUF); }
}

/** Handlers waiting for a port of that name to appear (names come from the
 *  device after DEVICE_READY, so registration may precede them). */
// @ts-ignore: decorator
@lazy
const wanted = new Map<string, SerialPortHandler>();
// @ts-ignore: decorator
@lazy
const named = new Array<SerialPort>();

/** Attaches handler to the port called name, now or when it appears. */
export function onSerialPort(name: string, handler: SerialPortHandler): void {
  wanted.set(name, handler);
  for (let i = 0; i < named.length; i++) {
    const p = unchecked(named[i]);
    if (p.name == name) p.dev.attachPort(p, handler);
  }
}

export class VirtioConsole extends VirtioDevice {
  private mem: usize = 0;
  private free: StaticArray<u32> = new StaticArray<u32>(NSLOTS);
  private nfree: u32 = 0;
  private line: usize = 0;       // bytes gathered for the next buffer (in a slot-sized staging area)
  private lineLen: u32 = 0;
  bytesSent: u64 = 0;
  bytesDropped: u64 = 0;
  /** With MULTIPORT: ports 0..nports-1 have queues. */
  nports: u32 = 1;
  private ports: SerialPort[] = [];
  private ctrlRx: usize = 0;
  private ctrlTx: usize = 0;
  private ctrlTxFree: StaticArray<u32> = new StaticArray<u32>(CTRL_TX_SLOTS);
  private nctrlTxFree: u32 = 0;

  constructor(t: Transport) { super(t); }

  // Named ports only with an interrupt of the device's own: on a shared PCI
  // INTx line the multiport device's interrupts stalled the other devices on
  // q35 (test/apps/blk-irq), so there it stays a port-0 console.
  acceptFeatures(offered: u64): u64 {
    return this.transport.ownInterrupt() ? offered & (<u64>1 << F_MULTIPORT) : 0;
  }
  get multiport(): bool { return this.has(F_MULTIPORT); }
  // Port 0 alone is driven synchronously (the caller waits for its buffer);
  // named ports hear about received bytes by interrupt (MULTIPORT is only
  // negotiated with an interrupt of the device's own, see acceptFeatures).
  wantsInterrupts(): bool { return this.multiport; }
  queueInterrupts(i: i32): bool { return i != TXQ; }
  queueCount(): i32 {
    if (!this.multiport) return 2;
    let n = this.transport.readConfig32(4);   // max_nr_ports
    if (n > MAX_PORTS) n = MAX_PORTS;
    if (n < 1) n = 1;
    this.nports = n;
    return <i32>(2 + 2 * n);                 // port 0, control, ports 1..n-1
  }

  setup(): bool {
    this.mem = dmaAlloc(<usize>(SLOT * (NSLOTS + 1)));
    if (this.mem == 0) { this.problem = "out of memory"; return false; }
    this.line = this.mem + <usize>(SLOT * NSLOTS);
    for (let i: u32 = 0; i < NSLOTS; i++) this.free[i] = i;
    this.nfree = NSLOTS;
    if (!this.multiport) return true;
    this.ctrlRx = dmaAlloc(<usize>(CTRL_RX_BYTES * CTRL_RX_SLOTS));
    this.ctrlTx = dmaAlloc(<usize>(CTRL_HDR * CTRL_TX_SLOTS));
    if (this.ctrlRx == 0 || this.ctrlTx == 0) { this.problem = "out of memory"; return false; }
    for (let i: u32 = 0; i < CTRL_RX_SLOTS; i++) this.postCtrlRx(i);
    for (let i: u32 = 0; i < CTRL_TX_SLOTS; i++) this.ctrlTxFree[i] = i;
    this.nctrlTxFree = CTRL_TX_SLOTS;
    for (let id: u32 = 0; id < this.nports; id++) this.ports.push(new SerialPort(this, id));
    return true;
  }

  afterDriverOk(): void {
    super.afterDriverOk();
    // §5.3.6.2: the driver announces itself; the device then adds its ports.
    if (this.multiport) this.control(0, EV_DEVICE_READY, 1);
  }

  detail(): string {
    let s = "port 0, " + this.bytesSent.toString() + " bytes sent";
    for (let i = 1; i < this.ports.length; i++) {
      const p = unchecked(this.ports[i]);
      if (p.name.length > 0) s += "; port " + i.toString() + " \"" + p.name + "\"" + (p.hostConnected ? " connected" : "");
    }
    return s;
  }

  private ctrlRxQ(): SplitQueue { return this.queues[2]; }
  private ctrlTxQ(): SplitQueue { return this.queues[3]; }

  private postCtrlRx(slot: u32): void {
    const q = this.ctrlRxQ();
    q.push(physAddr(this.ctrlRx + <usize>(slot * CTRL_RX_BYTES)), CTRL_RX_BYTES, true);
    q.submit(slot);
  }

  /** Sends a control message; dropped (and so retried by nobody) if all
   *  control buffers are in flight, which 16 of them make unlikely. */
  private control(id: u32, event: u32, value: u32): void {
    this.reclaimCtrlTx();
    if (this.nctrlTxFree == 0) return;
    const slot = this.ctrlTxFree[--this.nctrlTxFree];
    const p = this.ctrlTx + <usize>(slot * CTRL_HDR);
    store<u32>(p, id);
    store<u16>(p, <u16>event, 4);
    store<u16>(p, <u16>value, 6);
    const q = this.ctrlTxQ();
    q.push(physAddr(p), CTRL_HDR, false);
    if (q.submit(slot) < 0) { this.ctrlTxFree[this.nctrlTxFree++] = slot; return; }
    this.kick(q);
  }

  private reclaimCtrlTx(): void {
    const q = this.ctrlTxQ();
    while (q.popUsed()) if (q.usedToken < CTRL_TX_SLOTS) this.ctrlTxFree[this.nctrlTxFree++] = q.usedToken;
  }

  /** Gives a named port its queues' buffers and opens it from our side. */
  attachPort(p: SerialPort, h: SerialPortHandler): void {
    p.handler = h;
    if (p.rx !== null) return;
    const rxq = this.queues[2 + 2 * p.id];
    const txq = this.queues[3 + 2 * p.id];
    p.rxMem = dmaAlloc(<usize>(PORT_BUF * PORT_RX_SLOTS));
    p.txMem = dmaAlloc(<usize>(PORT_BUF * PORT_TX_SLOTS));
    if (p.rxMem == 0 || p.txMem == 0) return;
    p.rx = rxq;
    p.tx = txq;
    for (let i: u32 = 0; i < PORT_RX_SLOTS; i++) this.postPortRx(p, i);
    this.kick(rxq);
    for (let i: u32 = 0; i < PORT_TX_SLOTS; i++) p.txFree[i] = i;
    p.ntxFree = PORT_TX_SLOTS;
    this.control(p.id, EV_PORT_OPEN, 1);
  }

  private postPortRx(p: SerialPort, slot: u32): void {
    const q = p.rx!;
    q.push(physAddr(p.rxMem + <usize>(slot * PORT_BUF)), PORT_BUF, true);
    q.submit(slot);
  }

  private controlEvent(ptr: usize, len: u32): void {
    if (len < CTRL_HDR) return;
    const id = load<u32>(ptr);
    const event = <u32>load<u16>(ptr, 4);
    const value = <u32>load<u16>(ptr, 6);
    if (event == EV_DEVICE_ADD) {
      // A port we have queues for is ready; the rest are refused (§5.3.6.2).
      this.control(id, EV_PORT_READY, id < this.nports ? 1 : 0);
      return;
    }
    if (id >= this.nports || id == 0) return;   // port 0 is the console: nothing to learn
    const p = unchecked(this.ports[id]);
    if (event == EV_PORT_NAME) {
      const n = len - CTRL_HDR;
      let end: u32 = 0;
      while (end < n && load<u8>(ptr + <usize>(CTRL_HDR + end)) != 0) end++;
      p.name = String.UTF8.decodeUnsafe(ptr + <usize>CTRL_HDR, <usize>end);
      named.push(p);
      if (wanted.has(p.name)) this.attachPort(p, wanted.get(p.name));
    } else if (event == EV_PORT_OPEN) {
      const c = value != 0;
      if (c == p.hostConnected) return;
      p.hostConnected = c;
      const h = p.handler;
      if (h !== null) h.hostChanged(p, c);
    } else if (event == EV_DEVICE_REMOVE) {
      if (p.hostConnected) {
        p.hostConnected = false;
        const h = p.handler;
        if (h !== null) h.hostChanged(p, false);
      }
    }
    // CONSOLE_PORT (another console port) and RESIZE: nothing to do.
  }

  service(): void {
    const q = this.queues[TXQ];
    while (q.popUsed()) {
      if (q.usedToken < NSLOTS && this.nfree < NSLOTS) this.free[this.nfree++] = q.usedToken;
    }
    if (!this.multiport) return;   // port 0's received bytes are not used
    const c = this.ctrlRxQ();
    let got = false;
    while (c.popUsed()) {
      const slot = c.usedToken;
      if (slot >= CTRL_RX_SLOTS) continue;
      this.controlEvent(this.ctrlRx + <usize>(slot * CTRL_RX_BYTES), c.usedLen);
      this.postCtrlRx(slot);
      got = true;
    }
    if (got) this.kick(c);
    this.reclaimCtrlTx();
    for (let i = 1; i < this.ports.length; i++) {
      const p = unchecked(this.ports[i]);
      const rx = p.rx;
      if (rx === null) continue;
      let posted = false;
      while (rx.popUsed()) {
        const slot = rx.usedToken;
        if (slot >= PORT_RX_SLOTS) continue;
        const len = rx.usedLen < PORT_BUF ? rx.usedLen : PORT_BUF;
        p.bytesIn += <u64>len;
        const h = p.handler;
        if (h !== null && len > 0) h.received(p, p.rxMem + <usize>(slot * PORT_BUF), <i32>len);
        this.postPortRx(p, slot);
        posted = true;
      }
      if (posted) this.kick(rx);
      const tx = p.tx!;
      let freed = false;
      while (tx.popUsed()) {
        if (tx.usedToken < PORT_TX_SLOTS) { p.txFree[p.ntxFree++] = tx.usedToken; freed = true; }
      }
      if (freed) {
        const h = p.handler;
        if (h !== null) h.writable(p);
      }
    }
  }

  writeByte(b: u32): void {
    if (!this.ready) return;
    store<u8>(this.line + <usize>this.lineLen, <u8>b);
    this.lineLen++;
    if (b == 0x0a || this.lineLen == SLOT) this.flush();
  }

  /** Hands the gathered bytes to the device (§5.3.6.1: output goes in
   *  device-readable transmitq buffers). Drops them if no slot frees up. */
  flush(): void {
    if (this.lineLen == 0) return;
    this.reclaimConsoleTx();
    for (let spins = 0; spins < 100000 && this.nfree == 0; spins++) { this.transport.ackInterrupt(); this.reclaimConsoleTx(); }
    if (this.nfree == 0) { this.bytesDropped += <u64>this.lineLen; this.lineLen = 0; return; }
    const slot = this.free[--this.nfree];
    const p = this.mem + <usize>(SLOT * slot);
    memory.copy(p, this.line, <usize>this.lineLen);
    const q = this.queues[TXQ];
    q.push(physAddr(p), this.lineLen, false);
    if (q.submit(slot) < 0) { this.free[this.nfree++] = slot; this.bytesDropped += <u64>this.lineLen; }
    else { this.kick(q); this.bytesSent += <u64>this.lineLen; }
    this.lineLen = 0;
  }

  /** Port 0's transmit buffers only: the console is written from anywhere,
   *  and must not run port handlers from inside a println. */
  private reclaimConsoleTx(): void {
    const q = this.queues[TXQ];
    while (q.popUsed()) {
      if (q.usedToken < NSLOTS && this.nfree < NSLOTS) this.free[this.nfree++] = q.usedToken;
    }
  }

  /** Sends what is gathered and waits for the device to take it, then resets. */
  shutdown(): void {
    if (this.ready) {
      this.flush();
      const q = this.queues[TXQ];
      for (let spins = 0; spins < 1000000 && q.inFlight() != 0; spins++) { this.transport.ackInterrupt(); this.reclaimConsoleTx(); }
    }
    super.shutdown();
  }
}

export class VirtioConsoleSink extends ConsoleSink {
  constructor(public dev: VirtioConsole) { super(); }
  writeByte(b: u32): void { this.dev.writeByte(b); }
}
