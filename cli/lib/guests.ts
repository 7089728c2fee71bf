// cli/lib/guests.ts — guests that outlive the terminal (`skiff run --detach`):
// one record and one console log per guest in a per-user runtime folder
// ($XDG_RUNTIME_DIR/skiff, else /tmp/skiff-$UID; mode 0700, files 0600),
// written by the detached `skiff run` that supervises QEMU and removed by it
// when the guest ends; and the one function that calls a guest's management
// API (`skiff api`, `skiff stop`).
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, readFileSync, readSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { UserError } from "./log.js";

export interface GuestRecord {
  name: string;
  /** What `skiff run` was given: an app folder or an image. */
  app: string;
  /** The detached `skiff run` that supervises QEMU (it ends when the guest does). */
  pid: number;
  /** QEMU's PID (the guest); changes when the guest reboots. */
  qemuPid: number;
  /** Forwards as given: "HOSTPORT:GUESTPORT", "udp:H:G". */
  ports: string[];
  /** The host-only channel's unix socket: the management API without a token. */
  apiSocket?: string;
  /** 127.0.0.1 port forwarded to the guest's management API on the network
   *  (only with api.net=on). */
  apiPort?: number;
  /** The bearer token when given on the command line (api.token=). */
  token?: string;
  /** The mode-0600 file with the token skiff run handed the guest (fw_cfg). */
  tokenFile?: string;
  /** ms since the epoch. */
  started: number;
  status: "running" | "rebooting" | "stopping";
  log: string;
}

/** Guest names: used as file names and in commands. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new UserError(`${name}: a guest name is 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
}

/** The runtime folder, made if absent; refused if someone else owns it or
 *  others can reach into it. */
export function runtimeDir(env: Record<string, string | undefined> = process.env): string {
  const uid = process.getuid ? process.getuid() : 0;
  const xdg = env.XDG_RUNTIME_DIR;
  const dir = xdg && existsSync(xdg) ? join(xdg, "skiff") : `/tmp/skiff-${uid}`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new UserError(`${dir}: cannot make the runtime folder (${(e as NodeJS.ErrnoException).code}); remove what is there or set XDG_RUNTIME_DIR`, 1);
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid) {
    throw new UserError(`${dir}: not a folder owned by you (uid ${uid}); remove it or set XDG_RUNTIME_DIR`, 1);
  }
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  return dir;
}

export function recordPath(dir: string, name: string): string { return join(dir, `${name}.json`); }
export function logPath(dir: string, name: string): string { return join(dir, `${name}.log`); }

export function writeRecord(dir: string, r: GuestRecord): void {
  const tmp = join(dir, `.${r.name}.json.${process.pid}`);
  writeFileSync(tmp, JSON.stringify(r, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, recordPath(dir, r.name));
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The record of a guest whose supervisor still runs; a stale one (its
 *  supervisor killed outright) is removed with its log. */
export function readRecord(dir: string, name: string): GuestRecord | null {
  let r: GuestRecord;
  try {
    r = JSON.parse(readFileSync(recordPath(dir, name), "utf8")) as GuestRecord;
  } catch {
    return null;
  }
  if (!alive(r.pid)) {
    removeGuestFiles(dir, name);
    return null;
  }
  return r;
}

export function listRecords(dir: string): GuestRecord[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json") && !f.startsWith("."))
    .map((f) => readRecord(dir, f.slice(0, -5)))
    .filter((r): r is GuestRecord => r !== null)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function removeGuestFiles(dir: string, name: string): void {
  rmSync(recordPath(dir, name), { force: true });
  rmSync(logPath(dir, name), { force: true });
}

/** The record of a running guest, or an error naming the ones that run. */
export function findGuest(name: string): { dir: string; rec: GuestRecord } {
  checkName(name);
  const dir = runtimeDir();
  const rec = readRecord(dir, name);
  if (!rec) {
    const names = listRecords(dir).map((r) => r.name);
    throw new UserError(`no guest named ${name} is running${names.length ? ` (running: ${names.join(", ")})` : ""}; see skiff ps`, 1);
  }
  return { dir, rec };
}

/** Bytes of a file from offset on (an fd keeps working after the file is removed). */
export function readFrom(fd: number, offset: number): Buffer {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, offset);
    if (n <= 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    offset += n;
  }
  return Buffer.concat(chunks);
}


/** A TCP port free on 127.0.0.1 now (for the management API's forward). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ApiResult {
  status: number;
  contentType: string;
  body: string;
}

/** One call to a guest's management API: over the host-only channel's unix
 *  socket when the guest has one (no token needed: only this user can open
 *  it), else over the 127.0.0.1 port forwarded to it when the API is on the
 *  network (api.net=on), with its bearer token. */
export async function callGuestApi(rec: GuestRecord, method: string, path: string, body?: string, timeoutMs = 10000): Promise<ApiResult> {
  const headers: Record<string, string> = {};
  if (body !== undefined) {
    let json = false;
    try { JSON.parse(body); json = true; } catch { /* text */ }
    headers["content-type"] = json ? "application/json" : "text/plain; charset=utf-8";
  }
  if (!path.startsWith("/")) path = "/" + path;
  if (rec.apiSocket && existsSync(rec.apiSocket)) return callOverSocket(rec, rec.apiSocket, method, path, headers, body, timeoutMs);
  if (!rec.apiPort) {
    throw new UserError(`${rec.name}: no management API to call (it needs a network, and not api.off)`, 1);
  }
  let token = rec.token;
  if (!token && rec.tokenFile) { try { token = readFileSync(rec.tokenFile, "utf8").trim(); } catch { /* gone with the guest */ } }
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${rec.apiPort}${path}`, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new UserError(`${rec.name}: the management API on 127.0.0.1:${rec.apiPort} did not answer (${cause}); is the guest still booting? see skiff logs ${rec.name}`, 1);
  }
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", body: await res.text() };
}

function callOverSocket(rec: GuestRecord, socketPath: string, method: string, path: string, headers: Record<string, string>,
                        body: string | undefined, timeoutMs: number): Promise<ApiResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, method, path, headers: { host: "guest", ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new UserError(`${rec.name}: the management API on ${socketPath} did not answer in ${timeoutMs} ms; is the guest still booting? see skiff logs ${rec.name}`, 1)));
    req.on("error", (e) => reject(e instanceof UserError ? e : new UserError(`${rec.name}: the management API on ${socketPath}: ${(e as Error).message}`, 1)));
    req.end(body);
  });
}

export function closeQuietly(fd: number): void {
  try { closeSync(fd); } catch { /* closed */ }
}
