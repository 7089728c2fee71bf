// test/unit/deploy.test.ts — the documents `skiff deploy` emits: libvirt domain
// XML checked by libvirt's own schema (virt-xml-validate, from libvirt-clients
// + libxml2-utils), KubeVirt VirtualMachines type-checked (tsc) as emitted
// against KubeVirt's published API types, Firecracker JSON checked against the
// fields its API documents; the validators themselves must reject broken
// documents. OCI image layouts: reproducible, standard tar (GNU tar reads
// them), digests checked on read.
import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { execa } from "execa";
import { LIBVIRT_DEFAULTS, NO_CGROUP_TUNING, domainName, libvirtDomainXml, lifecycleActions, type ImageKind } from "../../cli/lib/deploy/libvirt.js";
import { checkFirecrackerPaths, firecrackerConfig, validateFirecrackerConfig } from "../../cli/lib/deploy/firecracker.js";
import { checkKubevirtOptions, k8sName, kubevirtCmdline, kubevirtVirtualMachine, runStrategy, type KubevirtOptions } from "../../cli/lib/deploy/kubevirt.js";
import { extractOciDisk, makeOciImage, readOciImage, readTar, tarArchive, LABEL } from "../../cli/lib/deploy/oci.js";
import { parseReference } from "../../cli/lib/deploy/registry.js";
import { grubConfig } from "../../cli/lib/image.js";
import { main } from "../../cli/main.js";
import { nodeIO, type IO } from "../../cli/lib/log.js";

async function skiff(cwd: string, ...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const io: IO = { ...nodeIO(), cwd, out: (t) => out.push(t), err: (t) => err.push(t), raw: () => {} };
  const status = await main(argv, io);
  return { status, out: out.join("\n"), err: err.join("\n") };
}

async function validateXml(xml: string): Promise<{ ok: boolean; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-deploy-"));
  try {
    const f = join(dir, "domain.xml");
    writeFileSync(f, xml);
    const r = await execa("virt-xml-validate", [f, "domain"], { reject: false, all: true });
    return { ok: r.exitCode === 0, out: String(r.all ?? "") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const base = {
  ...LIBVIRT_DEFAULTS, name: "skiff-hello", image: "/srv/skiff/hello/image.elf", kind: "elf" as ImageKind,
  serialLog: "/var/log/skiff/skiff-hello.log",
};

describe("libvirt domain XML", () => {
  for (const kind of ["elf", "iso", "raw", "qcow2"] as ImageKind[]) {
    it(`validates against libvirt's schema (${kind})`, async () => {
      const xml = libvirtDomainXml({ ...base, kind, image: `/srv/skiff/hello/image.${kind}`, cmdline: "quiet token=a&b<c>", cpuQuotaPercent: 50, network: kind === "elf" ? "user" : "default" });
      const r = await validateXml(xml);
      expect(r.ok, r.out).toBe(true);
    });
  }

  it("boots the ELF directly with the command line, disks through GRUB with an SMBIOS override", () => {
    const elf = libvirtDomainXml({ ...base, cmdline: "x=1" });
    expect(elf).toContain("<kernel>/srv/skiff/hello/image.elf</kernel>");
    expect(elf).toContain("<cmdline>x=1</cmdline>");
    expect(elf).not.toContain("oemStrings");
    const disk = libvirtDomainXml({ ...base, kind: "qcow2", image: "/d.qcow2", cmdline: "x=1" });
    expect(disk).toContain('<driver name="qemu" type="qcow2"/>');
    expect(disk).toContain('<target dev="vda" bus="virtio"/>');
    expect(disk).toContain("<entry>skiff.cmdline=x=1</entry>");
    expect(disk).toContain('<smbios mode="sysinfo"/>');
    // The grub.cfg baked into disk images reads that very prefix.
    expect(grubConfig("")).toContain("skiff\\.cmdline=");
  });

  it("partitions resources with libvirt's cgroup controls and logs the serial console", () => {
    const xml = libvirtDomainXml({ ...base, cpuShares: 256, cpuQuotaPercent: 25, blkioWeight: 200, memoryMiB: 32 });
    expect(xml).toMatch(/<cputune>\s*<shares>256<\/shares>\s*<period>100000<\/period>\s*<quota>25000<\/quota>/);
    expect(xml).toMatch(/<memtune>\s*<hard_limit unit="KiB">\d+<\/hard_limit>/);
    expect(xml).toMatch(/<blkiotune>\s*<weight>200<\/weight>/);
    expect(xml).toContain("<partition>/machine/skiff</partition>");
    expect(xml).toMatch(/<serial type="file">\s*<source path="\/var\/log\/skiff\/skiff-hello.log"\/>/);
    expect(xml).toContain('<model type="virtio"/>');
  });

  it("escapes what it embeds, and the schema check catches a broken document", async () => {
    const xml = libvirtDomainXml({ ...base, cmdline: "a<b" });
    expect(xml).toContain("a&lt;b");
    const broken = xml.replace("<memory ", "<memoryy ").replace("</memory>", "</memoryy>");
    expect((await validateXml(broken)).ok).toBe(false);
  });

  it("makes safe domain names", () => {
    expect(domainName("skiff-my app/x")).toBe("skiff-my-app-x");
    expect(domainName("///")).toBe("skiff");
  });
});

describe("Firecracker configuration", () => {
  const cfg = firecrackerConfig({ kernel: "/srv/skiff/hello/image.elf", cmdline: "quiet", vcpus: 1, memoryMiB: 32, taps: ["tap0", "tap1"], drives: ["/srv/data.img"], logPath: "/var/log/fc.log" });

  it("emits the documented fields and validates", () => {
    expect(validateFirecrackerConfig(cfg)).toEqual([]);
    expect(cfg["boot-source"]).toEqual({ kernel_image_path: "/srv/skiff/hello/image.elf", boot_args: "quiet" });
    expect(cfg["machine-config"]).toMatchObject({ vcpu_count: 1, mem_size_mib: 32 });
    expect(cfg["network-interfaces"].map((n) => n.host_dev_name)).toEqual(["tap0", "tap1"]);
    expect(new Set(cfg["network-interfaces"].map((n) => n.guest_mac)).size).toBe(2);
    expect(cfg.drives[0]).toMatchObject({ drive_id: "disk0", path_on_host: "/srv/data.img", is_root_device: false });
  });

  it("leaves virtio_mmio.device= to Firecracker", () => {
    expect(cfg["boot-source"].boot_args).not.toContain("virtio_mmio");
    const bad = { ...cfg, "boot-source": { ...cfg["boot-source"], boot_args: "virtio_mmio.device=4K@0xd0000000:5" } };
    expect(validateFirecrackerConfig(bad).join()).toMatch(/virtio_mmio/);
  });

  it("rejects unknown keys, missing fields and bad values", () => {
    expect(validateFirecrackerConfig({ ...cfg, "boot-sauce": {} }).join()).toMatch(/unknown top-level key boot-sauce/);
    expect(validateFirecrackerConfig({ ...cfg, "machine-config": { vcpu_count: 1 } }).join()).toMatch(/mem_size_mib/);
    expect(validateFirecrackerConfig({ ...cfg, "machine-config": { vcpu_count: 0, mem_size_mib: 32 } }).join()).toMatch(/vcpu_count/);
    expect(validateFirecrackerConfig({ ...cfg, drives: [{ drive_id: "a", is_root_device: "yes" }] }).join()).toMatch(/is_root_device: expected boolean/);
    expect(validateFirecrackerConfig({ ...cfg, "network-interfaces": [{ iface_id: "eth0" }] }).join()).toMatch(/host_dev_name/);
    const dup = { ...cfg, drives: [cfg.drives[0], cfg.drives[0]] };
    expect(validateFirecrackerConfig(dup).join()).toMatch(/unique/);
  });
});

describe("libvirt networking, restarts and tuning", () => {
  const fw = [{ proto: "tcp" as const, hostPort: 18080, guestPort: 8080 }, { proto: "udp" as const, hostPort: 15353, guestPort: 53 }];

  for (const machine of ["q35", "pc"] as const) {
    it(`user networking with forwards validates and passes one netdev with hostfwd (${machine})`, async () => {
      const xml = libvirtDomainXml({ ...base, kind: "qcow2", image: "/d.qcow2", machine, forwards: fw });
      const r = await validateXml(xml);
      expect(r.ok, r.out).toBe(true);
      expect(xml).toContain('xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0"');
      expect(xml).toContain('<qemu:arg value="user,id=skiffnet0,hostfwd=tcp:127.0.0.1:18080-:8080,hostfwd=udp:127.0.0.1:15353-:53"/>');
      expect(xml).toContain(`<qemu:arg value="virtio-net-pci,netdev=skiffnet0,bus=${machine === "q35" ? "pcie.0" : "pci.0"},addr=0x10"/>`);
      expect(xml).not.toContain("<interface");
    });
  }

  it("a libvirt network, a bridge, or user networking without forwards use <interface>", async () => {
    for (const [network, want] of [["default", '<source network="default"/>'], ["bridge:br0", '<source bridge="br0"/>'], ["user", '<interface type="user">']]) {
      const xml = libvirtDomainXml({ ...base, network });
      expect(xml).toContain(want);
      expect(xml).not.toContain("qemu:commandline");
      const r = await validateXml(xml);
      expect(r.ok, r.out).toBe(true);
    }
  });

  it("maps --restart to on_poweroff/on_reboot/on_crash", async () => {
    expect(lifecycleActions("no")).toEqual({ poweroff: "destroy", reboot: "destroy", crash: "destroy" });
    expect(lifecycleActions("on-failure")).toEqual({ poweroff: "destroy", reboot: "restart", crash: "restart" });
    expect(lifecycleActions("always")).toEqual({ poweroff: "restart", reboot: "restart", crash: "restart" });
    const xml = libvirtDomainXml({ ...base, restart: "on-failure" });
    expect(xml).toMatch(/<on_poweroff>destroy<\/on_poweroff>\s*<on_reboot>restart<\/on_reboot>\s*<on_crash>restart<\/on_crash>/);
    expect((await validateXml(libvirtDomainXml({ ...base, restart: "always" }))).ok).toBe(true);
  });

  it("--token-file hands the API token over through fw_cfg, and validates", async () => {
    for (const kind of ["elf", "qcow2"] as ImageKind[]) {
      const xml = libvirtDomainXml({ ...base, kind, tokenFile: "/etc/skiff/httpd.token" });
      expect(xml).toContain('<sysinfo type="fwcfg">\n    <entry name="opt/org.skiff/api-token" file="/etc/skiff/httpd.token"/>');
      const r = await validateXml(xml);
      expect(r.ok, r.out).toBe(true);
    }
    expect(libvirtDomainXml(base)).not.toContain("fwcfg");
  });

  it("--no-cgroups leaves out every cgroup control and still validates", async () => {
    const xml = libvirtDomainXml({ ...base, ...NO_CGROUP_TUNING });
    for (const el of ["<cputune>", "<memtune>", "<blkiotune>", "<resource>"]) expect(xml).not.toContain(el);
    expect((await validateXml(xml)).ok).toBe(true);
  });

  it("the command refuses forwards off user networking, bad weights, and images that do not exist", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-deploy-"));
    try {
      writeFileSync(join(dir, "image.qcow2"), "x");
      let r = await skiff(dir, "deploy", "libvirt", "image.qcow2", "--network", "default", "--forward", "8080:80");
      expect(r.err).toMatch(/--forward works with --network user/);
      r = await skiff(dir, "deploy", "libvirt", "image.qcow2", "--blkio-weight", "5");
      expect(r.err).toMatch(/100\.\.1000/);
      r = await skiff(dir, "deploy", "libvirt", "nope.qcow2");
      expect(r.err).toMatch(/no such image/);
      r = await skiff(dir, "deploy", "libvirt", "image.qcow2", "--forward", "8080:80", "--restart", "always", "--no-cgroups");
      expect(r.status, r.err).toBe(0);
      expect(r.out).toContain("hostfwd=tcp:127.0.0.1:8080-:80");
      expect(r.out).toContain("<on_poweroff>restart</on_poweroff>");
      expect(r.out).toMatch(/<source path="\/var\/log\/libvirt\/qemu\/skiff-skiff-deploy-\w+\.serial\.log"\/>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("KubeVirt VirtualMachine", () => {
  const opts: KubevirtOptions = {
    name: "skiff-httpd", image: "registry.example.com/skiff/httpd:1.0", memoryMiB: 64, vcpus: 1, cmdline: "api.token=abcdefgh",
    ports: [{ name: "api", port: 8000 }, { name: "http", port: 8080 }], apiPort: 8000, restart: "on-failure",
  };

  it("boots the containerDisk on virtio with masquerade ports, a /health readiness probe and the command line in the SMBIOS serial", () => {
    const vm = kubevirtVirtualMachine(opts);
    expect(vm.apiVersion).toBe("kubevirt.io/v1");
    expect(vm.kind).toBe("VirtualMachine");
    expect(vm.spec.runStrategy).toBe("RerunOnFailure");
    const t = vm.spec.template.spec!;
    expect(t.volumes).toEqual([{ name: "containerdisk", containerDisk: { image: opts.image } }]);
    expect(t.domain.devices.disks).toEqual([{ name: "containerdisk", disk: { bus: "virtio" }, bootOrder: 1 }]);
    expect(t.domain.devices.interfaces?.[0]).toMatchObject({ name: "default", masquerade: {}, ports: [{ name: "api", port: 8000, protocol: "TCP" }, { name: "http", port: 8080, protocol: "TCP" }] });
    expect(t.networks).toEqual([{ name: "default", pod: {} }]);
    expect(t.readinessProbe?.httpGet).toEqual({ path: "/health", port: 8000 });
    expect(t.domain.memory?.guest).toBe("64Mi");
    expect(t.domain.machine?.type).toBe("q35");
    expect(t.domain.firmware?.serial).toBe("skiff.cmdline=api.token=abcdefgh");
    // The disk's grub.cfg reads exactly that: the type 1 serial after the OEM strings.
    expect(grubConfig("")).toContain("smbios --type 1 --get-string 7 --set skiff_serial");
    expect(kubevirtVirtualMachine({ ...opts, cmdline: "" }).spec.template.spec!.domain.firmware?.serial).toBeUndefined();
    expect([runStrategy("no"), runStrategy("on-failure"), runStrategy("always")]).toEqual(["Once", "RerunOnFailure", "Always"]);
  });

  it("puts the management API on the network for the probes (api.net=on), unless the command line decides or there are no probes", () => {
    expect(kubevirtCmdline("api.token=abcdefgh", 8000)).toBe("api.net=on api.token=abcdefgh");
    expect(kubevirtCmdline("", 8000)).toBe("api.net=on");
    expect(kubevirtCmdline("quiet", 9000)).toBe("api.net=on api.port=9000 quiet");
    expect(kubevirtCmdline("api.port=9000", 9000)).toBe("api.net=on api.port=9000");
    for (const c of ["api.net=on", "api.net=off x", "api.net", "api.off"]) expect(kubevirtCmdline(c, 8000)).toBe(c);
    expect(kubevirtCmdline("quiet", 0)).toBe("quiet");
  });

  it("checks names, ports and the command line", () => {
    expect(checkKubevirtOptions(opts)).toEqual([]);
    expect(checkKubevirtOptions({ ...opts, name: "Skiff_HTTPD" }).join()).toMatch(/DNS-1123/);
    expect(checkKubevirtOptions({ ...opts, ports: [{ name: "http", port: 8080 }] }).join()).toMatch(/probed but not among the ports/);
    expect(checkKubevirtOptions({ ...opts, ports: [...opts.ports, { name: "x", port: 70000 }] }).join()).toMatch(/out of range/);
    expect(checkKubevirtOptions({ ...opts, cmdline: "x".repeat(300) }).join()).toMatch(/at most 255/);
    expect(checkKubevirtOptions({ ...opts, cmdline: "caf\u00e9" }).join()).toMatch(/printable ASCII/);
    expect(k8sName("skiff-My_App.v2")).toBe("skiff-my-app-v2");
  });

  it("the emitted JSON type-checks against KubeVirt's API types, and a wrong field does not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-kubevirt-"));
    try {
      const r = await skiff(dir, "deploy", "kubevirt", "registry.example.com/skiff/httpd:1.0", "--port", "http:8080", "--cmdline", "api.token=abcdefgh", "--restart", "always");
      expect(r.status, r.err).toBe(0);
      const vm = JSON.parse(r.out);
      expect(vm.spec.template.spec.domain.devices.interfaces[0].ports.map((p: { port: number }) => p.port)).toEqual([8000, 8080]);
      expect(vm.spec.template.spec.domain.firmware.serial).toBe("skiff.cmdline=api.net=on api.token=abcdefgh");
      expect(vm.spec.template.spec.readinessProbe.httpGet).toEqual({ path: "/health", port: 8000 });
      const bad = JSON.parse(r.out);
      bad.spec.template.spec.domain.devices.disks[0].disk.buss = "virtio";       // a misspelt field
      const pkg = resolve("node_modules/@kubevirt-ui/kubevirt-api");
      // Kubernetes' HTTPGetAction.port is an IntOrString that the generated
      // type leaves out (the CLI adds it through an intersection type): the
      // checked copy has it removed, everything else is checked as emitted.
      const header = 'import type { V1VirtualMachine } from "@kubevirt-ui/kubevirt-api/kubevirt/models/V1VirtualMachine";';
      const doc = (v: unknown) => {
        const text = JSON.stringify(v, null, 2).replace(/"httpGet": (\{[^}]*\})/g, (_m, o: string) => `"httpGet": ${o.replace(/,?\s*"port": \d+/, "")}`);
        return `${header}\nexport const vm: V1VirtualMachine = ${text};\n`;
      };
      writeFileSync(join(dir, "good.ts"), doc(vm));
      writeFileSync(join(dir, "bad.ts"), doc(bad));
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, skipLibCheck: true, module: "commonjs", moduleResolution: "node10", target: "ES2022", types: [], baseUrl: ".", paths: { "@kubevirt-ui/kubevirt-api/*": [`${pkg}/*`] } },
        files: ["good.ts", "bad.ts"],
      }));
      const tsc = await execa(resolve("node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: dir, reject: false, all: true });
      const errors = String(tsc.all ?? "").split("\n").filter((l) => /error TS/.test(l));
      expect(errors.filter((l) => !l.startsWith("bad.ts")), String(tsc.all)).toEqual([]);
      expect(errors.join("\n")).toMatch(/^bad\.ts.*'"?buss"?' does not exist in type 'V1Disk/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("OCI image layout", () => {
  function layout(disk: Buffer, app = "hello") {
    const dir = mkdtempSync(join(tmpdir(), "skiff-oci-"));
    writeFileSync(join(dir, "image.qcow2"), disk);
    const img = makeOciImage({ disk: join(dir, "image.qcow2"), out: join(dir, "image.oci"), app, skiffVersion: "0.1.0", epoch: 1577836800 });
    return { dir, img };
  }

  it("is reproducible: same disk and labels, same digest; another disk, another digest", () => {
    const disk = Buffer.from("QFI\xfb" + "skiff".repeat(1000), "latin1");
    const a = layout(disk), b = layout(disk), c = layout(Buffer.concat([disk, Buffer.from("!")])), d = layout(disk, "other");
    try {
      expect(a.img.manifestDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(b.img.manifestDigest).toBe(a.img.manifestDigest);
      expect(c.img.manifestDigest).not.toBe(a.img.manifestDigest);
      expect(d.img.manifestDigest).not.toBe(a.img.manifestDigest);
      const names = (x: typeof a) => readdirSync(join(x.dir, "image.oci", "blobs", "sha256")).sort();
      expect(names(b)).toEqual(names(a));
    } finally {
      for (const x of [a, b, c, d]) rmSync(x.dir, { recursive: true, force: true });
    }
  });

  it("follows the image layout: oci-layout, index.json -> manifest -> config with labels and a gzip layer", () => {
    const { dir, img } = layout(Buffer.from("disk bytes"));
    try {
      const o = join(dir, "image.oci");
      expect(JSON.parse(readFileSync(join(o, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
      const index = JSON.parse(readFileSync(join(o, "index.json"), "utf8"));
      expect(index.schemaVersion).toBe(2);
      expect(index.manifests[0]).toMatchObject({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: img.manifestDigest, platform: { architecture: "amd64", os: "linux" } });
      const info = readOciImage(o);
      expect(info.manifest.layers[0].mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
      expect(info.labels[LABEL.app]).toBe("hello");
      expect(info.labels[LABEL.skiffVersion]).toBe("0.1.0");
      expect(info.labels[LABEL.diskSha256]).toBe(img.diskSha256);
      expect(info.labels[LABEL.created]).toBe("2020-01-01T00:00:00Z");
      const out = join(dir, "out.qcow2");
      const e = extractOciDisk(o, out);
      expect(readFileSync(out, "utf8")).toBe("disk bytes");
      expect([e.uid, e.gid, e.mode]).toEqual([107, 107, 0o440]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("GNU tar reads the layer; a corrupted blob or tar header is caught", async () => {
    const { dir } = layout(Buffer.alloc(3000, 7));
    try {
      const o = join(dir, "image.oci");
      const info = readOciImage(o);
      const blob = join(o, "blobs", "sha256", info.manifest.layers[0].digest.slice(7));
      const tar = gunzipSync(readFileSync(blob));
      writeFileSync(join(dir, "layer.tar"), tar);
      const listed = await execa("tar", ["-tvf", join(dir, "layer.tar"), "--numeric-owner"]);
      expect(listed.stdout.split("\n")).toEqual([
        expect.stringMatching(/^drwxr-xr-x 107\/107\s+0 2020-01-01 00:00 disk\/$/),
        expect.stringMatching(/^-r--r----- 107\/107\s+3000 2020-01-01 00:00 disk\/image\.qcow2$/),
      ]);
      const broken = Buffer.from(tar);
      broken[10] ^= 1;
      expect(() => readTar(broken)).toThrow(/checksum/);
      const blobBytes = readFileSync(blob);
      blobBytes[blobBytes.length - 1] ^= 1;
      writeFileSync(blob, blobBytes);
      expect(() => extractOciDisk(o, join(dir, "x"))).toThrow(/does not match its digest/);
      expect(() => readOciImage(dir)).toThrow(/not an OCI image layout/);
      expect(readTar(tarArchive([]))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("registry references", () => {
  it("takes REGISTRY/REPOSITORY[:TAG][@DIGEST] and refuses the rest", () => {
    expect(parseReference("127.0.0.1:5000/skiff/hello:latest")).toEqual({ registry: "127.0.0.1:5000", repository: "skiff/hello", tag: "latest", digest: undefined });
    expect(parseReference("docker://registry.example.com/a/b@sha256:" + "0".repeat(64)).digest).toBe("sha256:" + "0".repeat(64));
    for (const bad of ["hello", "Registry.example.com/UPPER:1", "r.example.com/a b", "r.example.com/a:b:c", ""]) {
      expect(() => parseReference(bad), bad).toThrow(/not an image reference/);
    }
  });

  it("deploy kubevirt wants a registry reference, not a local layout", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-kv-"));
    try {
      mkdirSync(join(dir, "image.oci"));
      writeFileSync(join(dir, "image.oci", "oci-layout"), "{}");
      const r = await skiff(dir, "deploy", "kubevirt", "image.oci");
      expect(r.err).toMatch(/local OCI image; KubeVirt pulls from a registry: skiff push/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("push refuses what is not an OCI layout", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-push-"));
    try {
      mkdirSync(join(dir, "nothing"));
      const r = await skiff(dir, "push", "nothing", "127.0.0.1:5000/x:y");
      expect(r.status).not.toBe(0);
      expect(r.err).toMatch(/not an OCI image layout/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Firecracker: addresses, paths, formats", () => {
  it("--ip/--gateway/--dns become boot words; every path must exist; disk images are refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-fc-"));
    try {
      writeFileSync(join(dir, "image.elf"), "\x7fELF");
      writeFileSync(join(dir, "data.img"), "");
      writeFileSync(join(dir, "image.qcow2"), "");
      let r = await skiff(dir, "deploy", "firecracker", "image.elf", "--tap", "tap0", "--ip", "192.168.100.2/24", "--gateway", "192.168.100.1", "--dns", "192.168.100.1", "--drive", "data.img", "--cmdline", "quiet");
      expect(r.status, r.err).toBe(0);
      const cfg = JSON.parse(r.out);
      expect(cfg["boot-source"].boot_args).toBe("quiet ip=192.168.100.2/24 gateway=192.168.100.1 dns=192.168.100.1");
      expect(validateFirecrackerConfig(cfg)).toEqual([]);
      r = await skiff(dir, "deploy", "firecracker", "image.elf", "--drive", "missing.img");
      expect(r.err).toMatch(/missing\.img: no such file/);
      r = await skiff(dir, "deploy", "firecracker", "image.elf", "--log", "no/such/dir/fc.log");
      expect(r.err).toMatch(/no such folder/);
      r = await skiff(dir, "deploy", "firecracker", "image.elf", "--tap", "tap0", "--ip", "192.168.100.0/24");
      expect(r.err).toMatch(/network address/);
      r = await skiff(dir, "deploy", "firecracker", "image.qcow2");
      expect(r.err).toMatch(/Firecracker boots kernels \(PVH ELF\) only and has no firmware for qcow2 images/);
      r = await skiff(dir, "deploy", "firecracker", "gone.elf");
      expect(r.err).toMatch(/no such image/);
      const fc = firecrackerConfig({ kernel: "/nope/k.elf", cmdline: "", vcpus: 1, memoryMiB: 16, taps: ["way-too-long-tap-name"], drives: [] });
      expect(checkFirecrackerPaths(fc, () => null).join()).toMatch(/kernel \/nope\/k.elf: no such file.*tap way-too-long-tap-name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("GRUB configuration", () => {
  it("probes SMBIOS with output on the BIOS console, then goes back to serial before booting", () => {
    const cfg = grubConfig("quiet");
    const at = (s: string) => cfg.indexOf(s);
    expect(at("terminal_output console")).toBeGreaterThan(at("terminal_output serial"));
    expect(at("smbios --type 11")).toBeGreaterThan(at("terminal_output console"));
    expect(cfg.lastIndexOf("terminal_output serial")).toBeGreaterThan(at("smbios --type 1 "));
    expect(cfg.lastIndexOf("terminal_output serial")).toBeLessThan(at("menuentry"));
  });
});
