// cli/lib/net.ts: `skiff run --net/--forward/--tap/--ip/--gateway/--dns`
// argument building and validation, and the host checks (a port taken on
// 127.0.0.1, a missing or foreign tap device) with their messages.
import { afterAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:net";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkNetHost, checkNetSpec, checkTap, netArgs, netdevValue, parseCidr, parseForward, staticIpCmdline,
} from "../../cli/lib/net.js";
import { deviceArgs } from "../../cli/lib/devices.js";
import { runCommand } from "../../cli/commands/run.js";
import { UserError } from "../../cli/lib/log.js";

const err = (f: () => unknown) => {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(UserError); return (e as Error).message; }
  throw new Error("expected a UserError");
};
const errAsync = async (p: Promise<unknown>) => {
  try { await p; } catch (e) { expect(e).toBeInstanceOf(UserError); return (e as Error).message; }
  throw new Error("expected a UserError");
};

describe("--forward", () => {
  it("parses HOSTPORT:GUESTPORT (TCP) and tcp:/udp: prefixes", () => {
    expect(parseForward("8080:80")).toEqual({ proto: "tcp", hostPort: 8080, guestPort: 80 });
    expect(parseForward("tcp:1:65535")).toEqual({ proto: "tcp", hostPort: 1, guestPort: 65535 });
    expect(parseForward("udp:5353:53")).toEqual({ proto: "udp", hostPort: 5353, guestPort: 53 });
  });
  it("rejects bad ports and shapes, naming the value", () => {
    expect(err(() => parseForward("8080"))).toMatch(/--forward 8080: expected HOSTPORT:GUESTPORT/);
    expect(err(() => parseForward("0:80"))).toMatch(/port 0 is out of range/);
    expect(err(() => parseForward("70000:80"))).toMatch(/port 70000 is out of range/);
    expect(err(() => parseForward("http:80"))).toMatch(/"http" is not a port number/);
    expect(err(() => parseForward("sctp:1:2"))).toMatch(/protocol "sctp" unknown/);
    expect(err(() => parseForward("1:2:3:4"))).toMatch(/expected HOSTPORT:GUESTPORT/);
    expect(err(() => parseForward("-1:80"))).toMatch(/not a port number/);
  });
  it("becomes hostfwd= on 127.0.0.1 only, aimed at a static address when there is one", () => {
    expect(netdevValue({ mode: "user", forwards: [parseForward("8080:80"), parseForward("udp:5353:53")] }))
      .toBe("user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:127.0.0.1:5353-:53");
    expect(netdevValue({ mode: "user", forwards: [parseForward("2222:22")], staticIp: { ip: "10.0.2.20/24" } }))
      .toBe("user,id=net0,hostfwd=tcp:127.0.0.1:2222-10.0.2.20:22");
  });
  it("the same host port twice, or with tap/none, is an error; TCP and UDP may share a number", () => {
    expect(err(() => checkNetSpec({ mode: "user", forwards: [parseForward("80:1"), parseForward("80:2")] }))).toMatch(/host TCP port 80 is already forwarded \(to guest port 1\)/);
    expect(() => checkNetSpec({ mode: "user", forwards: [parseForward("80:7"), parseForward("udp:80:7")] })).not.toThrow();
    expect(err(() => checkNetSpec({ mode: "tap", forwards: [parseForward("80:80")] }))).toMatch(/--forward works with --net user only/);
    expect(err(() => checkNetSpec({ mode: "none", forwards: [parseForward("80:80")] }))).toMatch(/--forward needs a network/);
  });
});

describe("--net", () => {
  it("user, tap (script=no) and none as QEMU arguments, PCI and MMIO", () => {
    expect(netArgs({ mode: "user" }, "virtio-net-pci", true)).toEqual(["-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0,romfile="]);
    expect(netArgs({ mode: "tap" }, "virtio-net-device", false)).toEqual(["-netdev", "tap,id=net0,ifname=skiff0,script=no,downscript=no", "-device", "virtio-net-device,netdev=net0"]);
    expect(netdevValue({ mode: "tap", tap: "tap7" })).toBe("tap,id=net0,ifname=tap7,script=no,downscript=no");
    expect(netArgs({ mode: "none" }, "virtio-net-pci", true)).toEqual([]);
  });
  it("deviceArgs takes a mode or a whole spec", () => {
    expect(deviceArgs("q35", { net: "user" })).toEqual(["-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0,romfile="]);
    expect(deviceArgs("microvm", { net: { mode: "user", forwards: [parseForward("8000:80")] } }))
      .toEqual(["-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:8000-:80", "-device", "virtio-net-device,netdev=net0"]);
    expect(deviceArgs("q35", { net: "none" })).toEqual([]);
  });
  it("rejects unknown modes, bad tap names, --tap without tap", () => {
    expect(err(() => checkNetSpec({ mode: "bridge" as "user" }))).toMatch(/choose one of user, tap, none/);
    expect(err(() => checkNetSpec({ mode: "tap", tap: "a,b=c" }))).toMatch(/not a Linux interface name/);
    expect(err(() => checkNetSpec({ mode: "tap", tap: "x".repeat(16) }))).toMatch(/not a Linux interface name/);
    expect(err(() => checkNetSpec({ mode: "user", tap: "tap0" }))).toMatch(/--tap tap0 needs --net tap/);
  });
});

describe("--ip / --gateway / --dns", () => {
  it("become the kernel's ip= gateway= dns= words", () => {
    expect(staticIpCmdline({ ip: "10.0.2.15/24", gateway: "10.0.2.2", dns: "10.0.2.3" })).toBe("ip=10.0.2.15/24 gateway=10.0.2.2 dns=10.0.2.3");
    expect(staticIpCmdline({ ip: "192.168.7.2/30" }, "tap")).toBe("ip=192.168.7.2/30");
    expect(staticIpCmdline({ ip: "10.9.0.1/32" }, "tap")).toBe("ip=10.9.0.1/32");
  });
  it("say what is wrong with an address", () => {
    expect(err(() => parseCidr("10.0.2.15"))).toMatch(/expected ADDR\/PREFIX/);
    expect(err(() => parseCidr("10.0.2.256/24"))).toMatch(/not an IPv4 address/);
    expect(err(() => parseCidr("10.0.2/24"))).toMatch(/not an IPv4 address/);
    expect(err(() => parseCidr("10.0.2.15/33"))).toMatch(/prefix \/33 out of range/);
    expect(err(() => parseCidr("10.0.2.0/24"))).toMatch(/network address/);
    expect(err(() => parseCidr("10.0.2.255/24"))).toMatch(/broadcast address/);
    expect(err(() => staticIpCmdline({ ip: "10.0.2.15/24", gateway: "10.0.3.1" }))).toMatch(/--gateway 10\.0\.3\.1 is not inside 10\.0\.2\.15\/24/);
    expect(err(() => staticIpCmdline({ ip: "10.0.2.15/24", gateway: "10.0.2.15" }))).toMatch(/guest's own address/);
    expect(err(() => staticIpCmdline({ ip: "10.0.2.15/24", dns: "dns.example" }))).toMatch(/--dns dns\.example: not an IPv4 address/);
  });
  it("with user networking the address must be inside QEMU's 10.0.2.0/24", () => {
    expect(err(() => staticIpCmdline({ ip: "192.168.1.5/24" }, "user"))).toMatch(/QEMU user networking is 10\.0\.2\.0\/24.*--net tap/);
    expect(err(() => staticIpCmdline({ ip: "10.0.2.2/24" }, "user"))).toMatch(/uses 10\.0\.2\.2 and 10\.0\.2\.3 itself/);
    expect(() => staticIpCmdline({ ip: "192.168.1.5/24" }, "tap")).not.toThrow();
  });
});

const servers: Server[] = [];
const dirs: string[] = [];
afterAll(() => { servers.forEach((s) => s.close()); dirs.forEach((d) => rmSync(d, { recursive: true, force: true })); });

describe("host checks", () => {
  it("a forwarded port already in use is named, with how to find its holder", async () => {
    const s = createServer();
    servers.push(s);
    const port = await new Promise<number>((r) => s.listen(0, "127.0.0.1", () => r((s.address() as { port: number }).port)));
    const m = await errAsync(checkNetHost({ mode: "user", forwards: [parseForward(`${port}:80`)] }));
    expect(m).toContain(`--forward ${port}:80: host TCP port ${port} already in use on 127.0.0.1`);
    expect(m).toContain(`ss -ltnp 'sport = :${port}'`);
    s.close();
    await new Promise((r) => setTimeout(r, 10));
    await expect(checkNetHost({ mode: "user", forwards: [parseForward(`${port}:80`)] })).resolves.toBeUndefined();
  });
  it("a tap device that is missing, not a tap, or not openable says how to fix it", () => {
    const sys = mkdtempSync(join(tmpdir(), "skiff-sysnet-"));
    dirs.push(sys);
    expect(err(() => checkTap("skiffx", sys))).toMatch(/--tap skiffx: no such network device; create it with: sudo ip tuntap add dev skiffx mode tap user/);
    mkdirSync(join(sys, "eth9"));
    expect(err(() => checkTap("eth9", sys))).toMatch(/exists but is not a tun\/tap device/);
    mkdirSync(join(sys, "tap9"));
    writeFileSync(join(sys, "tap9", "tun_flags"), "0x1002\n");
    expect(err(() => checkTap("tap9", sys, join(sys, "no-such-tun")))).toMatch(/cannot open .*no-such-tun for reading and writing/);
  });
  it("skiff run reports a bad --ip before building anything", async () => {
    const lines: string[] = [];
    const io = { out: (s: string) => lines.push(s), err: (s: string) => lines.push(s), raw: () => {}, cwd: process.cwd() } as unknown as Parameters<typeof runCommand>[1];
    expect(await errAsync(runCommand(["apps/does-not-exist", "--ip", "10.0.2.300/24"], io))).toMatch(/not an IPv4 address/);
    expect(await errAsync(runCommand(["apps/does-not-exist", "--gateway", "10.0.2.2"], io))).toMatch(/--gateway needs --ip/);
    expect(await errAsync(runCommand(["apps/does-not-exist", "--net", "none", "--forward", "80:80"], io))).toMatch(/--forward needs a network/);
    expect(await errAsync(runCommand(["apps/does-not-exist", "--net", "tap", "--tap", "skiff-nonexist"], io))).toMatch(/no such network device/);
  });
});
