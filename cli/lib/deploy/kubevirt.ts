// cli/lib/deploy/kubevirt.ts — a KubeVirt VirtualMachine for one Skiff guest
// (kubevirt.io/v1), typed against KubeVirt's published API types
// (@kubevirt-ui/kubevirt-api, generated from KubeVirt's OpenAPI document), so
// a misspelt or misplaced field fails the type check.
//
// The disk is a containerDisk: the OCI image `skiff build --format oci` makes
// (the qcow2 at /disk/, uid/gid 107), pulled by the node like any container
// image. KubeVirt boots it on q35 with SeaBIOS from a virtio-blk disk; the
// pod network is reached through masquerade (the pod's ports are the app's);
// the readiness and liveness probes ask the management API's GET /health,
// the one route it answers on the network without the token, so the VM's
// command line gets api.net=on (kubevirtCmdline): KubeVirt has no host-only
// channel, and a guest's API is off the network by default. KubeVirt writes
// no per-VM SMBIOS OEM strings, so a command line other than the one baked
// into the disk goes in the SMBIOS system serial number
// (spec.domain.firmware.serial), which the image's grub.cfg reads too.
import type { V1VirtualMachine } from "@kubevirt-ui/kubevirt-api/kubevirt/models/V1VirtualMachine.js";
import type { V1Port } from "@kubevirt-ui/kubevirt-api/kubevirt/models/V1Port.js";
import type { V1Probe } from "@kubevirt-ui/kubevirt-api/kubevirt/models/V1Probe.js";
import type { K8sIoApiCoreV1HTTPGetAction } from "@kubevirt-ui/kubevirt-api/kubevirt/models/K8sIoApiCoreV1HTTPGetAction.js";
import type { RestartPolicy } from "./libvirt.js";

export interface KubevirtOptions {
  name: string;
  /** The containerDisk image reference (registry/repository:tag or @sha256:...). */
  image: string;
  memoryMiB: number;
  vcpus: number;
  /** Overrides the disk's baked-in command line ("" keeps it). */
  cmdline: string;
  /** TCP ports the app serves (exposed on the pod). */
  ports: { name: string; port: number }[];
  /** The management API's port (readiness probe target); 0 = no probe. */
  apiPort: number;
  restart: RestartPolicy;
  namespace?: string;
}

/** spec.runStrategy for a restart policy: Always restarts on any stop,
 *  RerunOnFailure only when the VMI failed, Once never. */
export function runStrategy(p: RestartPolicy): string {
  return p === "always" ? "Always" : p === "on-failure" ? "RerunOnFailure" : "Once";
}

/** The command line the VM gets: cmdline, with api.net=on (and api.port=N
 *  for a port other than 8000) in front when the probes need the API on the
 *  network (apiPort > 0) and cmdline does not already decide (api.net=...,
 *  api.off). Without api.token= the network side answers /health only. */
export function kubevirtCmdline(cmdline: string, apiPort: number): string {
  if (apiPort <= 0 || /(^|\s)api\.(net(=|\s|$)|off(\s|$))/.test(cmdline)) return cmdline;
  const words = ["api.net=on", ...(apiPort !== 8000 && !/(^|\s)api\.port=/.test(cmdline) ? [`api.port=${apiPort}`] : []), cmdline];
  return words.filter((w) => w).join(" ");
}

/** KubeVirt's SMBIOS serial carries at most this much (libvirt passes it on; keep it short). */
export const SERIAL_MAX = 255;

/** Kubernetes object names: DNS-1123 labels (lowercase alphanumerics and '-', 63 at most). */
export function k8sName(s: string): string {
  const n = s.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63).replace(/-+$/, "");
  return n || "skiff";
}

/** Kubernetes' HTTPGetAction. The generated type leaves out `port`, an
 *  IntOrString in KubeVirt's OpenAPI document (the generator drops that kind
 *  of field), though the API requires it; everything else is checked. */
type HttpGet = K8sIoApiCoreV1HTTPGetAction & { port: number };

function healthProbe(port: number, initialDelaySeconds: number, periodSeconds: number): V1Probe {
  const httpGet: HttpGet = { path: "/health", port };
  return { httpGet, initialDelaySeconds, periodSeconds, timeoutSeconds: 2, failureThreshold: 3 };
}

export function kubevirtVirtualMachine(o: KubevirtOptions): V1VirtualMachine {
  const labels = { app: o.name, "app.kubernetes.io/name": o.name, "app.kubernetes.io/managed-by": "skiff" };
  const ports: V1Port[] = o.ports.map((p) => ({ name: p.name, port: p.port, protocol: "TCP" }));
  const vm: V1VirtualMachine = {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachine",
    metadata: { name: o.name, labels, ...(o.namespace ? { namespace: o.namespace } : {}) },
    spec: {
      runStrategy: runStrategy(o.restart),
      template: {
        metadata: { labels: { ...labels, "kubevirt.io/domain": o.name } },
        spec: {
          domain: {
            machine: { type: "q35" },
            cpu: { cores: o.vcpus, sockets: 1, threads: 1 },
            memory: { guest: `${o.memoryMiB}Mi` },
            resources: { requests: { memory: `${o.memoryMiB}Mi` } },
            firmware: {
              bootloader: { bios: { useSerial: true } },
              ...(o.cmdline ? { serial: `skiff.cmdline=${o.cmdline}` } : {}),
            },
            devices: {
              disks: [{ name: "containerdisk", disk: { bus: "virtio" }, bootOrder: 1 }],
              interfaces: [{ name: "default", masquerade: {}, model: "virtio", ports }],
              rng: {},
              autoattachGraphicsDevice: false,
              autoattachMemBalloon: false,
              autoattachSerialConsole: true,
              logSerialConsole: true,
            },
          },
          networks: [{ name: "default", pod: {} }],
          terminationGracePeriodSeconds: 0,
          volumes: [{ name: "containerdisk", containerDisk: { image: o.image } }],
          ...(o.apiPort > 0 ? {
            readinessProbe: healthProbe(o.apiPort, 5, 10),
            livenessProbe: healthProbe(o.apiPort, 30, 20),
          } : {}),
        },
      },
    },
  };
  return vm;
}

/** Checks what the types cannot: sizes, ports, names. Returns the problems found. */
export function checkKubevirtOptions(o: KubevirtOptions): string[] {
  const errs: string[] = [];
  if (k8sName(o.name) !== o.name) errs.push(`name ${o.name}: not a DNS-1123 label (lowercase letters, digits, '-'; at most 63)`);
  if (!Number.isInteger(o.memoryMiB) || o.memoryMiB < 1) errs.push(`memory ${o.memoryMiB}: expected a whole number of MiB`);
  if (!Number.isInteger(o.vcpus) || o.vcpus < 1) errs.push(`vcpus ${o.vcpus}: expected at least 1`);
  const seen = new Set<number>();
  for (const p of o.ports) {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) errs.push(`port ${p.port}: out of range (1-65535)`);
    if (seen.has(p.port)) errs.push(`port ${p.port}: listed twice`);
    seen.add(p.port);
    if (!/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(p.name)) errs.push(`port name ${p.name}: must be a lowercase IANA service name of at most 15 characters`);
  }
  if (o.apiPort > 0 && !seen.has(o.apiPort)) errs.push(`the management API's port ${o.apiPort} is probed but not among the ports`);
  const serial = `skiff.cmdline=${o.cmdline}`;
  if (o.cmdline && serial.length > SERIAL_MAX) errs.push(`cmdline: ${serial.length} bytes with its prefix; the SMBIOS serial carries at most ${SERIAL_MAX} (bake a longer one into the image: skiff build --format oci --cmdline ...)`);
  if (/[^\x20-\x7e]/.test(o.cmdline)) errs.push("cmdline: printable ASCII only (it travels as an SMBIOS string)");
  if (!o.image) errs.push("image: a containerDisk reference is required (skiff push prints one)");
  return errs;
}
