// test/system/deploy.test.ts — Skiff images on the engines `skiff deploy`
// writes for, for real:
// - OCI: `skiff build --format oci` twice gives one digest; `skiff push` to a
//   local registry (Debian's docker-registry on 127.0.0.1, a temp config and
//   storage, plain HTTP with --insecure), `skiff pull` into another folder:
//   same digest; the disk unpacked from the pulled image (uid/gid 107 under
//   /disk/) boots the way KubeVirt boots a containerDisk (q35, SeaBIOS,
//   virtio-blk, the command line in the SMBIOS system serial as
//   spec.domain.firmware.serial puts it) and its management API answers.
// - the same against a registry with TLS (a throwaway CA) and htpasswd basic
//   auth: refused without the CA, without or with wrong credentials.
// - libvirt: a private libvirtd of our own (root, in a mount namespace so its
//   configuration and state folders are temp folders; qemu.conf without
//   cgroups), `skiff deploy libvirt --define --start` through its socket; the
//   app answers through the domain's port forward, the serial log is written
//   in the folder deploy created, POST /os/shutdown turns the domain off, and
//   it is undefined; defined again with --restart on-failure, the same
//   shutdown brings it back up. libvirtd is stopped by its PID.
// - docs/DEPLOY.md: its build line and every QEMU command line in it run as
//   written.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { buildApp } from "../../harness/index.js";
import { main } from "../../cli/main.js";
import { makeImages, sha256File } from "../../cli/lib/image.js";
import { extractOciDisk, readOciImage, readTar, LABEL } from "../../cli/lib/deploy/oci.js";
import { kubevirtCmdline } from "../../cli/lib/deploy/kubevirt.js";
import { nodeIO, type IO } from "../../cli/lib/log.js";
import { gunzipSync } from "node:zlib";
import { freePort } from "./ports.js";

const TOKEN = "deploy-test-token-0123";
const work = mkdtempSync(join(tmpdir(), "skiff-deploy-"));
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s().catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until fn returns a value (not undefined) or ms pass. */
async function until<T>(ms: number, fn: () => Promise<T | undefined>): Promise<T | undefined> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(300);
  }
  return undefined;
}

async function health(port: number): Promise<number | undefined> {
  const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3000) });
  return r.status;
}

/** Runs the CLI in-process; returns status and what it printed. */
async function skiff(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const io: IO = { ...nodeIO(), out: (t) => out.push(t), err: (t) => err.push(t), raw: () => {} };
  const status = await main(argv, io);
  return { status, out: out.join("\n"), err: err.join("\n") };
}

/** Stops a process we started, by its PID. */
async function stopProc(p: ResultPromise, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (p.pid === undefined || p.exitCode !== null) return;
  try { process.kill(p.pid, signal); } catch { return; }
  await Promise.race([p.catch(() => {}), sleep(10_000)]);
  try { process.kill(p.pid, "SIGKILL"); } catch { /* gone */ }
}

/** apps/httpd (network + management API) as qcow2 and OCI, copied out of the build folder. */
let disk = "", oci = "", digest = "";
beforeAll(async () => {
  const elf = (await buildApp("apps/httpd")).elf;
  const arts = await makeImages(elf, ["qcow2", "oci"], "");
  disk = join(work, "image.qcow2");
  copyFileSync(arts.find((a) => a.format === "qcow2")!.path, disk);
  oci = join(work, "image.oci");
  await execa("cp", ["-r", arts.find((a) => a.format === "oci")!.path, oci]);
  digest = "sha256:" + arts.find((a) => a.format === "oci")!.sha256;
}, 600_000);

describe("OCI image and registry", () => {
  it("builds reproducibly: a second build gives the same manifest digest; labels name app, version, disk", async () => {
    const elf = (await buildApp("apps/httpd")).elf;
    const again = (await makeImages(elf, ["oci"], "")).find((a) => a.format === "oci")!;
    expect("sha256:" + again.sha256).toBe(digest);
    const img = readOciImage(oci);
    expect(img.manifestDigest).toBe(digest);
    expect(img.labels[LABEL.app]).toBe("httpd");
    expect(img.labels[LABEL.skiffVersion]).toMatch(/^\d+\.\d+\.\d+/);
    expect(img.labels[LABEL.diskSha256]).toBe(sha256File(disk));
    // The layer as KubeVirt needs it: /disk/image.qcow2, owned by 107:107.
    const layer = readFileSync(join(oci, "blobs", "sha256", img.manifest.layers[0].digest.slice(7)));
    const entries = readTar(gunzipSync(layer));
    expect(entries.map((e) => [e.name, e.uid, e.gid])).toEqual([["disk/", 107, 107], ["disk/image.qcow2", 107, 107]]);
    // GNU tar reads it the same way (the archive is standard ustar).
    const tarFile = join(work, "layer.tar");
    writeFileSync(tarFile, gunzipSync(layer));
    const listed = await execa("tar", ["-tvf", tarFile, "--numeric-owner"]);
    expect(listed.stdout).toMatch(/^-r--r-----\s+107\/107\s+\d+ 2020-01-01 00:00 disk\/image\.qcow2$/m);
  }, 300_000);

  it("pushes to a local registry, pulls into another folder with the same digest, and the unpacked disk boots as KubeVirt boots it", async () => {
    const port = await freePort();
    const reg = join(work, "registry");
    mkdirSync(join(reg, "data"), { recursive: true });
    writeFileSync(join(reg, "config.yml"), [
      "version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:", `    rootdirectory: ${join(reg, "data")}`,
      "http:", `  addr: 127.0.0.1:${port}`, "",
    ].join("\n"));
    const registry = execa("docker-registry", ["serve", join(reg, "config.yml")], { reject: false, all: true });
    stops.push(() => stopProc(registry));
    expect(await until(30_000, async () => ((await fetch(`http://127.0.0.1:${port}/v2/`)).status === 200 ? true : undefined)), "the registry never answered").toBe(true);

    const ref = `127.0.0.1:${port}/skiff/httpd:test`;
    // Without --insecure, plain HTTP is refused.
    const refused = await skiff("push", oci, ref);
    expect(refused.status).not.toBe(0);
    expect(refused.err).toMatch(/--insecure/);
    const pushed = await skiff("push", oci, ref, "--insecure");
    expect(pushed.status, pushed.err).toBe(0);
    expect(pushed.out).toBe(`${ref}@${digest}`);
    // The registry serves the very manifest (HTTP API v2).
    const m = await fetch(`http://127.0.0.1:${port}/v2/skiff/httpd/manifests/test`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
    expect(m.headers.get("docker-content-digest")).toBe(digest);

    const pulledDir = join(work, "pulled", "httpd.oci");
    const pulledDisk = join(work, "pulled", "disk.qcow2");
    const pulled = await skiff("pull", ref, pulledDir, "--insecure", "--disk", pulledDisk);
    expect(pulled.status, pulled.err).toBe(0);
    expect(readOciImage(pulledDir).manifestDigest).toBe(digest);
    expect(readFileSync(pulledDisk).equals(readFileSync(disk))).toBe(true);
    expect(extractOciDisk(pulledDir, join(work, "pulled", "again.qcow2")).uid).toBe(107);

    // KubeVirt's way: q35, SeaBIOS, the disk on virtio-blk, pod network
    // (masquerade: here QEMU user networking with the API port forwarded),
    // the command line in the SMBIOS system serial.
    const api = await freePort();
    const serial = join(work, "kubevirt-serial.log");
    const qemu = execa("timeout", ["180", "qemu-system-x86_64", "-M", "q35", "-m", "64M", "-nodefaults", "-no-user-config", "-display", "none",
      "-no-reboot", "-serial", `file:${serial}`,
      // What skiff deploy kubevirt writes in the serial: api.net=on for the probes (kubevirtCmdline).
      "-smbios", `type=1,serial=skiff.cmdline=${kubevirtCmdline(`api.token=${TOKEN}`, 8000)}`,
      "-drive", `file=${pulledDisk},format=qcow2,if=none,id=disk0,snapshot=on`, "-device", "virtio-blk-pci,drive=disk0",
      "-netdev", `user,id=net0,hostfwd=tcp:127.0.0.1:${api}-:8000`, "-device", "virtio-net-pci,netdev=net0",
      "-device", "virtio-rng-pci"], { reject: false, all: true });
    stops.push(() => stopProc(qemu));
    expect(await until(120_000, () => health(api)), `no answer on /health; serial:\n${existsSync(serial) ? readFileSync(serial, "latin1") : ""}`).toBe(200);
    const log = readFileSync(serial, "latin1");
    expect(log).not.toContain("no structure matched");
    // The token came from the SMBIOS serial: it opens state changes.
    const r = await fetch(`http://127.0.0.1:${api}/os/shutdown`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(202);
    const done = await Promise.race([qemu, sleep(60_000).then(() => null)]);
    expect(done, "QEMU did not end after POST /os/shutdown").not.toBeNull();
  }, 400_000);
});

describe("registry with TLS and basic auth", () => {
  it("push and pull need the registry's CA and the credentials it asks for", async (ctx) => {
    if ((await execa("sh", ["-c", "command -v openssl"], { reject: false })).exitCode !== 0) {
      ctx.skip("openssl is not installed (apt-get install openssl): no certificate for a TLS registry");
      return;
    }
    const port = await freePort();
    const reg = join(work, "tls-registry");
    const certs = join(reg, "certs");
    mkdirSync(join(reg, "data"), { recursive: true });
    mkdirSync(certs, { recursive: true });
    const ssl = await execa("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(reg, "key.pem"), "-out", join(certs, "ca.crt")], { reject: false, all: true });
    expect(ssl.exitCode, String(ssl.all)).toBe(0);
    // htpasswd wants bcrypt; perl's crypt() is libxcrypt's, which has it.
    const salt = "$2b$10$" + "skiffskiffskiffskiffsu";
    const hash = (await execa("perl", ["-e", "print crypt($ARGV[0], $ARGV[1])", "s3cret-pass", salt])).stdout;
    expect(hash).toMatch(/^\$2b\$10\$/);
    writeFileSync(join(reg, "htpasswd"), `skiff:${hash}\n`);
    writeFileSync(join(reg, "config.yml"), [
      "version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:", `    rootdirectory: ${join(reg, "data")}`,
      "auth:", "  htpasswd:", "    realm: skiff-test", `    path: ${join(reg, "htpasswd")}`,
      "http:", `  addr: 127.0.0.1:${port}`, "  tls:", `    certificate: ${join(certs, "ca.crt")}`, `    key: ${join(reg, "key.pem")}`, "",
    ].join("\n"));
    const registry = execa("docker-registry", ["serve", join(reg, "config.yml")], { reject: false, all: true });
    stops.push(() => stopProc(registry));
    const ca = readFileSync(join(certs, "ca.crt"));
    const status = () => new Promise<number | undefined>((res) => {
      const q = httpsGet(`https://127.0.0.1:${port}/v2/`, { ca }, (r) => { r.resume(); res(r.statusCode); });
      q.on("error", () => res(undefined));
    });
    const up = await until(30_000, async () => ((await status()) === 401 ? true : undefined));
    expect(up, "the TLS registry never asked for credentials").toBe(true);

    const ref = `127.0.0.1:${port}/skiff/httpd:tls`;
    const noCa = await skiff("push", oci, ref, "--creds", "skiff:s3cret-pass");
    expect(noCa.status).not.toBe(0);
    expect(noCa.err).toMatch(/certificate/i);
    const noCreds = await skiff("push", oci, ref, "--cert-dir", certs);
    expect(noCreds.status).not.toBe(0);
    expect(noCreds.err).toMatch(/credentials|unauthorized|authentication/i);
    const wrong = await skiff("push", oci, ref, "--cert-dir", certs, "--creds", "skiff:wrong");
    expect(wrong.status).not.toBe(0);
    const ok = await skiff("push", oci, ref, "--cert-dir", certs, "--creds", "skiff:s3cret-pass");
    expect(ok.status, ok.err).toBe(0);
    expect(ok.out).toBe(`${ref}@${digest}`);
    const pulled = await skiff("pull", ref, join(work, "tls-pulled.oci"), "--cert-dir", certs, "--creds", "skiff:s3cret-pass");
    expect(pulled.status, pulled.err).toBe(0);
    expect(readOciImage(join(work, "tls-pulled.oci")).manifestDigest).toBe(digest);
  }, 300_000);
});

describe("libvirt (a private libvirtd, TCG)", () => {
  it("defines and starts the domain skiff deploy writes; the app answers through its port forward; shut down through the API; undefined; --restart on-failure brings it back", async (ctx) => {
    if (!existsSync("/usr/sbin/libvirtd") || !existsSync("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so")) {
      ctx.skip("libvirtd with the QEMU driver is not installed (apt-get install libvirt-daemon libvirt-daemon-driver-qemu)");
      return;
    }
    const T = join(work, "libvirt");
    for (const d of ["etc", "run", "lib", "cache", "log", "sock", "nss"]) mkdirSync(join(T, d), { recursive: true });
    // No cgroups, no security driver or namespaces: the daemon needs nothing
    // the container may lack. QEMU runs as root here.
    writeFileSync(join(T, "etc", "qemu.conf"), [
      'user = "root"', 'group = "root"', "cgroup_controllers = [ ]", 'security_driver = "none"', "dynamic_ownership = 0",
      "remember_owner = 0", 'stdio_handler = "file"', "namespaces = [ ]", "",
    ].join("\n"));
    writeFileSync(join(T, "libvirtd.conf"), [
      `unix_sock_dir = "${join(T, "sock")}"`, 'auth_unix_ro = "none"', 'auth_unix_rw = "none"',
      `log_outputs = "3:file:${join(T, "libvirtd.log")}"`, "",
    ].join("\n"));
    // The QEMU driver looks its default user (libvirt-qemu, made by
    // libvirt-daemon-system) up before it reads qemu.conf: the namespace gets
    // a passwd/group with it, the host's files stay as they are.
    const passwd = readFileSync("/etc/passwd", "utf8");
    const group = readFileSync("/etc/group", "utf8");
    writeFileSync(join(T, "nss", "passwd"), passwd + (/^libvirt-qemu:/m.test(passwd) ? "" : "libvirt-qemu:x:64055:64055::/nonexistent:/usr/sbin/nologin\n"));
    writeFileSync(join(T, "nss", "group"), group + (/^libvirt-qemu:/m.test(group) ? "" : "libvirt-qemu:x:64055:\n"));
    const binds = [
      [join(T, "nss", "passwd"), "/etc/passwd"], [join(T, "nss", "group"), "/etc/group"], [join(T, "etc"), "/etc/libvirt"],
      [join(T, "run"), "/run/libvirt"], [join(T, "lib"), "/var/lib/libvirt"], [join(T, "cache"), "/var/cache/libvirt"], [join(T, "log"), "/var/log/libvirt"],
    ];
    const script = ["set -e", ...binds.map(([from, to]) => `mkdir -p ${to} 2>/dev/null || true; mount --bind ${from} ${to}`), `exec libvirtd --config ${join(T, "libvirtd.conf")}`].join("\n");
    const libvirtd = execa("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], { reject: false, all: true });
    stops.push(() => stopProc(libvirtd));
    const uri = `qemu:///system?socket=${join(T, "sock", "libvirt-sock")}`;
    const virsh = (...a: string[]) => execa("virsh", ["-c", uri, ...a], { reject: false, all: true, timeout: 180_000 });
    const up = await until(60_000, async () => ((await virsh("version")).exitCode === 0 ? true : undefined));
    if (!up) {
      const why = `${String((await libvirtd.catch((e) => e)).all ?? "")}\n${existsSync(join(T, "libvirtd.log")) ? readFileSync(join(T, "libvirtd.log"), "utf8") : ""}`;
      if (/unshare failed|Operation not permitted|mount:.*permission denied/i.test(why)) {
        ctx.skip(`cannot make a mount namespace for a private libvirtd here: ${why.trim().split("\n").pop()}`);
        return;
      }
      expect.fail(`the private libvirtd never answered:\n${why}`);
    }

    const name = `skiff-test-${process.pid}`;
    const api = await freePort();
    const logDir = join(T, "serial", "not-yet");      // does not exist: deploy makes it
    const xml = join(T, "domain.xml");
    const tokenFile = join(T, "api.token");
    writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
    const r = await skiff("deploy", "libvirt", disk, "--name", name, "--type", "qemu", "--memory", "64", "--connect", uri,
      "--forward", `${api}:8000`, "--restart", "no", "--no-cgroups", "--serial-log", join(logDir, "serial.log"),
      "--cmdline", `api.net=on api.token=${TOKEN}`, "--token-file", tokenFile, "--out", xml, "--define", "--start");
    stops.push(async () => { await virsh("destroy", name); await virsh("undefine", name); });
    expect(r.status, r.err).toBe(0);
    expect((await execa("virt-xml-validate", [xml, "domain"], { reject: false, all: true })).exitCode).toBe(0);
    expect(existsSync(logDir)).toBe(true);

    expect(await until(180_000, () => health(api)), `no answer on /health; serial:\n${existsSync(join(logDir, "serial.log")) ? readFileSync(join(logDir, "serial.log"), "latin1") : "(none)"}`).toBe(200);
    expect((await virsh("domstate", name)).stdout.trim()).toBe("running");
    // libvirt handed the token file to QEMU as the fw_cfg file the kernel reads.
    const qemuPid = Number(readFileSync(join(T, "run", "qemu", `${name}.pid`), "utf8").trim());
    const args = readFileSync(`/proc/${qemuPid}/cmdline`, "utf8").split("\0");
    expect(args[args.indexOf("-fw_cfg") + 1]).toBe(`name=opt/org.skiff/api-token,file=${tokenFile}`);
    const log = readFileSync(join(logDir, "serial.log"), "latin1");
    expect(log).toContain("api: REST endpoint on TCP port 8000");
    expect(log).not.toContain("no structure matched");
    // The token came in through the SMBIOS OEM string libvirt wrote.
    expect((await fetch(`http://127.0.0.1:${api}/os/shutdown`, { method: "POST", headers: { Authorization: "Bearer wrong-token-000" } })).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${api}/os/shutdown`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(202);
    const off = await until(60_000, async () => ((await virsh("domstate", name)).stdout.trim() === "shut off" ? true : undefined));
    expect(off, "the domain did not turn off after POST /os/shutdown").toBe(true);
    expect((await virsh("undefine", name)).exitCode).toBe(0);
    expect((await virsh("list", "--all", "--name")).stdout).not.toContain(name);

    // --restart on-failure: libvirt sees the guest's exit (a reset) and starts it again.
    const log2 = join(T, "serial", "restart.log");
    const again = await skiff("deploy", "libvirt", disk, "--name", name, "--type", "qemu", "--memory", "64", "--connect", uri,
      "--forward", `${api}:8000`, "--restart", "on-failure", "--no-cgroups", "--serial-log", log2,
      "--cmdline", `api.net=on api.token=${TOKEN}`, "--out", xml, "--define", "--start");
    expect(again.status, again.err).toBe(0);
    expect(readFileSync(xml, "utf8")).toContain("<on_reboot>restart</on_reboot>");
    expect(await until(180_000, () => health(api))).toBe(200);
    expect((await fetch(`http://127.0.0.1:${api}/os/shutdown`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(202);
    const boots = () => (readFileSync(log2, "latin1").match(/api: REST endpoint on TCP port 8000/g) ?? []).length;
    const twice = await until(180_000, async () => (boots() >= 2 && (await health(api)) === 200 ? true : undefined));
    expect(twice, `the guest did not come back; serial:\n${readFileSync(log2, "latin1")}`).toBe(true);
    expect((await virsh("domstate", name)).stdout.trim()).toBe("running");
    expect((await virsh("destroy", name)).exitCode).toBe(0);
    expect((await virsh("undefine", name)).exitCode).toBe(0);
  }, 600_000);
});

describe("docs/DEPLOY.md", () => {
  it("its build line and every QEMU command line run as written", async () => {
    const doc = readFileSync("docs/DEPLOY.md", "utf8");
    const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].replace(/\\\n\s*/g, ""));
    const lines = blocks.flatMap((b) => b.split("\n")).map((l) => l.replace(/\s+#.*$/, "").trim());
    const build = lines.find((l) => l.startsWith("./skiff build apps/hello"));
    expect(build, "docs/DEPLOY.md has no ./skiff build apps/hello line").toBeDefined();
    const qemuLines = lines.filter((l) => l.startsWith("qemu-system-x86_64"));
    expect(qemuLines.length).toBeGreaterThanOrEqual(2);
    const b = await execa("sh", ["-c", build!], { reject: false, all: true });
    expect(b.exitCode, String(b.all)).toBe(0);
    for (const l of qemuLines) {
      // Run as written, bounded: each boots hello, which ends the guest itself.
      const q = await execa("timeout", ["120", "sh", "-c", l], { reject: false, all: true, stdin: "ignore" });
      const out = String(q.all ?? "");
      expect(q.exitCode, `${l}\n${out}`).not.toBe(124);
      expect(out, l).toContain("Hello from Skiff!");
      expect(out, l).not.toContain("no structure matched");
    }
  }, 600_000);
});
