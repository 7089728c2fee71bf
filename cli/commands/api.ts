// cli/commands/api.ts — `skiff api NAME METHOD PATH [BODY]`: one call to a
// detached guest's management API over its host-only socket (or, for a guest
// without one whose API is on the network, with its bearer token); the response body
// on stdout, the status on stderr when it is not 2xx (exit status 1).
import { IO, UserError } from "../lib/log.js";
import { callGuestApi, findGuest } from "../lib/guests.js";

const METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"];

export async function apiCommand(argv: string[], io: IO): Promise<number> {
  const usage = "usage: skiff api NAME METHOD PATH [BODY]\n\nCalls the management API of a guest started with skiff run --detach, over its host-only socket (no token needed).\n" +
    "e.g. skiff api web GET /os/uptime, skiff api web PUT /config/app.greeting hello, skiff api web GET /openapi.json";
  if (argv.includes("--help") || argv.includes("-h")) { io.out(usage); return 0; }
  if (argv.length < 3 || argv.length > 4) { io.err(usage); return 2; }
  const [name, m, path, body] = argv;
  const method = m.toUpperCase();
  if (!METHODS.includes(method)) throw new UserError(`${m}: not an HTTP method (${METHODS.join(", ")})`);
  if (!path.startsWith("/")) throw new UserError(`${path}: a path starts with "/" (e.g. /os/uptime)`);
  const { rec } = findGuest(name);
  const r = await callGuestApi(rec, method, path, body);
  if (r.body) io.out(r.body.replace(/\n$/, ""));
  if (r.status < 200 || r.status > 299) {
    io.err(`skiff api: ${method} ${path}: HTTP ${r.status}`);
    return 1;
  }
  return 0;
}
