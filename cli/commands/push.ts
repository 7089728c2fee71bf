// cli/commands/push.ts — `skiff push IMAGE REF`: an OCI image layout made by
// `skiff build --format oci` (or an app folder, whose build/<app>/image.oci is
// used) to any OCI registry, through skopeo (cli/lib/deploy/registry.ts).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { IO, UserError } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";
import { readOciImage } from "../lib/deploy/oci.js";
import { pushImage, type RegistryAuth } from "../lib/deploy/registry.js";

export const registrySpecs: OptionSpecs = {
  insecure: { type: "boolean", help: "allow plain HTTP and unverified TLS (a local test registry; never across a network you do not own)" },
  creds: { type: "string", help: "USER:PASSWORD for the registry (or set SKIFF_REGISTRY_CREDS); passed to skopeo in a private auth file", metavar: "USER:PASS" },
  token: { type: "string", help: "bearer token for the registry (or set SKIFF_REGISTRY_TOKEN)", metavar: "TOKEN" },
  authfile: { type: "string", help: "credentials file (containers auth.json / docker config.json)", metavar: "FILE" },
  "cert-dir": { type: "string", help: "folder with the registry's CA (*.crt) and client certificate (*.cert, *.key)", metavar: "DIR" },
  help: { type: "boolean", help: "show this help", alias: "h" },
};

export function registryAuth(v: Record<string, unknown>, io: IO): RegistryAuth {
  return {
    insecure: !!v.insecure,
    creds: (v.creds as string | undefined) ?? process.env.SKIFF_REGISTRY_CREDS,
    token: (v.token as string | undefined) ?? process.env.SKIFF_REGISTRY_TOKEN,
    authfile: v.authfile ? resolve(io.cwd, v.authfile as string) : undefined,
    certDir: v["cert-dir"] ? resolve(io.cwd, v["cert-dir"] as string) : undefined,
  };
}

/** An OCI layout folder, or an app folder / name whose build made one. */
function findLayout(target: string, io: IO): string {
  const p = resolve(io.cwd, target);
  if (existsSync(join(p, "oci-layout"))) return p;
  for (const c of [join(io.cwd, "build", target.replace(/\/+$/, "").split("/").pop() ?? target, "image.oci")]) {
    if (existsSync(join(c, "oci-layout"))) return c;
  }
  throw new UserError(`${target}: not an OCI image layout; make one with skiff build ${target} --format oci (it writes build/<app>/image.oci)`);
}

export async function pushCommand(argv: string[], io: IO): Promise<number> {
  const { values: v, positionals } = parseOptions("push", argv, registrySpecs);
  if (v.help || positionals.length !== 2) {
    const t = helpText("skiff push <image.oci | app> <registry/repository[:tag]> [options]", "Pushes an OCI image (skiff build --format oci) to a registry; digests are kept.", registrySpecs);
    if (v.help) { io.out(t); return 0; }
    io.err(t);
    return 2;
  }
  const layout = findLayout(positionals[0], io);
  const local = readOciImage(layout);
  const digest = await pushImage(layout, positionals[1], registryAuth(v, io));
  if (digest !== local.manifestDigest) throw new UserError(`the registry stored ${digest}, not the image's ${local.manifestDigest}`, 1);
  io.out(`${positionals[1].replace(/^docker:\/\//, "")}@${digest}`);
  return 0;
}
