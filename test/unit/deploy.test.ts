// test/unit/deploy.test.ts — the documents `skiff deploy` emits: libvirt domain
// XML checked by libvirt's own schema (virt-xml-validate, from libvirt-clients
// + libxml2-utils) and Firecracker JSON checked against the fields its API
// documents; the validators themselves must reject broken documents.
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { LIBVIRT_DEFAULTS, domainName, libvirtDomainXml, type ImageKind } from "../../cli/lib/deploy/libvirt.js";
import { firecrackerConfig, validateFirecrackerConfig } from "../../cli/lib/deploy/firecracker.js";
import { grubConfig } from "../../cli/lib/image.js";

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
