// cli/lib/deploy/registry.ts — OCI images to and from a registry (the
// Distribution HTTP API v2) through skopeo (Debian package skopeo; the
// containers/image library): TLS with the system's or a given CA, basic and
// bearer-token authentication as the registry asks, and digests kept as they
// are (--preserve-digests: no recompression, so the manifest that was built is
// the one served). Plain HTTP only when the caller says so (insecure).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { UserError } from "../log.js";

export interface RegistryAuth {
  /** USER:PASSWORD for basic auth (also what a token service takes). */
  creds?: string;
  /** A bearer token, sent as is. */
  token?: string;
  /** A containers-auth.json / docker config.json with credentials. */
  authfile?: string;
  /** A folder with the registry's CA (*.crt) and client certificates (*.cert, *.key). */
  certDir?: string;
  /** Allow plain HTTP and unverified TLS. */
  insecure?: boolean;
}

/** registry[:port]/path[:tag][@sha256:...] — what skopeo's docker:// transport takes. */
export function parseReference(ref: string): { registry: string; repository: string; tag?: string; digest?: string } {
  const r = ref.replace(/^docker:\/\//, "");
  const m = /^([A-Za-z0-9.-]+(?::\d{1,5})?|\[[0-9a-fA-F:]+\](?::\d{1,5})?)\/([a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(r);
  if (!m) {
    throw new UserError(`${ref}: not an image reference; expected REGISTRY/REPOSITORY[:TAG], e.g. registry.example.com/skiff/hello:1.0 or 127.0.0.1:5000/hello:latest`);
  }
  return { registry: m[1], repository: m[2], tag: m[3], digest: m[4] };
}

async function skopeo(args: string[]): Promise<string> {
  const r = await execa("skopeo", args, { reject: false, all: true, timeout: 600_000 });
  if ((r as { code?: string }).code === "ENOENT") throw new UserError("skopeo not found: install it with apt-get install -y skopeo");
  if (r.exitCode !== 0) {
    const text = String(r.all ?? "").trim();
    const hint = /server gave HTTP response to HTTPS client|http: server gave HTTP response/.test(text)
      ? "\n(the registry speaks plain HTTP: pass --insecure if you mean to use it without TLS)"
      : /unauthorized|authentication required|denied/i.test(text) ? "\n(the registry wants credentials: --creds USER:PASSWORD, --token or --authfile)" : "";
    throw new UserError(`skopeo ${args[0]} failed: ${text}${hint}`, 1);
  }
  return String(r.stdout ?? "");
}

/** skopeo options for one side ("src" or "dest") of a copy, or for inspect (""),
 *  plus a cleanup. Basic credentials go through a private authfile, not argv. */
function authArgs(side: "src" | "dest" | "", a: RegistryAuth, registry: string): { args: string[]; done: () => void } {
  const p = side ? `--${side}-` : "--";
  const args = [`${p}tls-verify=${a.insecure ? "false" : "true"}`];
  let tmp: string | undefined;
  if (a.creds !== undefined) {
    if (!/^[^:]+:/.test(a.creds)) throw new UserError("--creds: expected USER:PASSWORD");
    tmp = mkdtempSync(join(tmpdir(), "skiff-auth-"));
    const f = join(tmp, "auth.json");
    writeFileSync(f, JSON.stringify({ auths: { [registry]: { auth: Buffer.from(a.creds).toString("base64") } } }), { mode: 0o600 });
    chmodSync(f, 0o600);
    args.push(`${p}authfile`, f);
  } else if (a.authfile) {
    if (!existsSync(a.authfile)) throw new UserError(`--authfile ${a.authfile}: no such file`);
    args.push(`${p}authfile`, a.authfile);
  }
  if (a.token) args.push(`${p}registry-token`, a.token);
  if (a.certDir) {
    if (!existsSync(a.certDir)) throw new UserError(`--cert-dir ${a.certDir}: no such folder`);
    args.push(`${p}cert-dir`, a.certDir);
  }
  return { args, done: () => { if (tmp) rmSync(tmp, { recursive: true, force: true }); } };
}

/** Pushes the layout's image (its tag `tag`, default the first) to `ref`; returns the manifest digest the registry stored. */
export async function pushImage(layout: string, ref: string, auth: RegistryAuth, tag?: string): Promise<string> {
  const r = parseReference(ref);
  const a = authArgs("dest", auth, r.registry);
  const tmp = mkdtempSync(join(tmpdir(), "skiff-push-"));
  try {
    const src = tag ? `oci:${layout}:${tag}` : `oci:${layout}`;
    await skopeo(["copy", "--quiet", "--preserve-digests", "--digestfile", join(tmp, "digest"), ...a.args, src, `docker://${ref.replace(/^docker:\/\//, "")}`]);
    return readFileSync(join(tmp, "digest"), "utf8").trim();
  } finally {
    a.done();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Pulls `ref` into an OCI layout folder `layout` (tag `latest` there); returns the manifest digest. */
export async function pullImage(ref: string, layout: string, auth: RegistryAuth): Promise<string> {
  const r = parseReference(ref);
  const a = authArgs("src", auth, r.registry);
  const tmp = mkdtempSync(join(tmpdir(), "skiff-pull-"));
  mkdirSync(dirname(layout), { recursive: true });
  try {
    await skopeo(["copy", "--quiet", "--preserve-digests", "--digestfile", join(tmp, "digest"), ...a.args, `docker://${ref.replace(/^docker:\/\//, "")}`, `oci:${layout}:latest`]);
    return readFileSync(join(tmp, "digest"), "utf8").trim();
  } finally {
    a.done();
    rmSync(tmp, { recursive: true, force: true });
  }
}
