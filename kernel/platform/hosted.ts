// kernel/platform/hosted.ts — the imports of a hosted build: `skiff dev` runs
// the kernel and the app as Wasm in Node, without QEMU, and maps the app's TCP
// sockets to the host's (cli/lib/hosted/). Only the entry `skiff dev`
// generates imports this (through kernel/lib/net/hosted.ts): no kernel module
// does, so a real image's program never contains it — not its imports nor
// the hosted socket layer. Module "hosted", not "host": the loader (boot/)
// never implements these, and the host-import list's version is unaffected.
//
// Connections are numbered by the host (id > 0). Events are pulled: the loop's
// network service calls net_event until it returns 0; received bytes are
// pulled with net_recv when the app reads.

/** net_event kinds; the record at out is five u32: kind, id, a, b, c. */
export const HOSTED_ACCEPT: u32 = 1;      // a = local port, b = remote address, c = remote port
export const HOSTED_READABLE: u32 = 2;    // data waits (net_recv), or the peer's FIN (net_recv gives -1)
export const HOSTED_WRITABLE: u32 = 3;    // the host's send queue drained below its limit
export const HOSTED_CONNECTED: u32 = 4;   // a net_connect completed; a = local port
export const HOSTED_CLOSED: u32 = 5;      // the connection is gone; a = TCP_ERR_* (0: orderly)

/** Starts accepting on a guest port: 0, or 1 when the host port is taken. */
// @ts-ignore: decorator
@external("hosted", "net_listen")
export declare function net_listen(port: u32): i32;
// @ts-ignore: decorator
@external("hosted", "net_unlisten")
export declare function net_unlisten(port: u32): void;
/** Opens a connection to addr:port (IPv4, host byte order); its id, or 0. */
// @ts-ignore: decorator
@external("hosted", "net_connect")
export declare function net_connect(addr: u32, port: u32): u32;
/** Queues up to len bytes; returns how many (0: queue full, wait for
 *  HOSTED_WRITABLE), -1 when the connection can no longer send. With len 0:
 *  how many bytes it would take now. */
// @ts-ignore: decorator
@external("hosted", "net_send")
export declare function net_send(id: u32, src: usize, len: i32): i32;
/** Copies up to max received bytes to dst: the count, 0 when none waits, -1
 *  at end of stream. With max 0: how many bytes wait (-1 at end of stream). */
// @ts-ignore: decorator
@external("hosted", "net_recv")
export declare function net_recv(id: u32, dst: usize, max: i32): i32;
/** Graceful close: queued bytes are sent, then FIN. */
// @ts-ignore: decorator
@external("hosted", "net_close")
export declare function net_close(id: u32): void;
/** Abortive close: RST. */
// @ts-ignore: decorator
@external("hosted", "net_abort")
export declare function net_abort(id: u32): void;
/** The next event into out (20 bytes): 1, or 0 when none is pending. */
// @ts-ignore: decorator
@external("hosted", "net_event")
export declare function net_event(out: usize): i32;
