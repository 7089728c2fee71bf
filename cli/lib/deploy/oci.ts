// cli/lib/deploy/oci.ts — a Skiff disk image as an OCI image (image layout,
// https://github.com/opencontainers/image-spec: oci-layout, index.json,
// blobs/sha256/...) that KubeVirt runs as a containerDisk: one layer holding
// the bootable qcow2 at /disk/, owned by uid/gid 107 (the qemu user in
// KubeVirt's virt-launcher), which KubeVirt's container-disk init copies out
// of and boots (q35, virtio-blk, SeaBIOS).
//
// Reproducible: the layer is a ustar archive written here with fixed owners,
// modes and dates, gzipped by Node's own zlib (no timestamp in the header);
// the config's dates are the image epoch; every JSON document is written with
// its keys in a fixed order. Same qcow2 and labels → same manifest digest.
// Pushing and pulling is skopeo's job (cli/lib/deploy/registry.ts).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";

/** KubeVirt's virt-launcher runs QEMU as uid/gid 107; the disk must be readable by it. */
export const KUBEVIRT_QEMU_ID = 107;

export const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  layerTar: "application/vnd.oci.image.layer.v1.tar",
};

/** Label keys: OCI's pre-defined annotation keys where one fits, Skiff's own otherwise. */
export const LABEL = {
  title: "org.opencontainers.image.title",
  version: "org.opencontainers.image.version",
  created: "org.opencontainers.image.created",
  app: "dev.skiff.app",
  skiffVersion: "dev.skiff.version",
  diskSha256: "dev.skiff.disk.sha256",
  diskPath: "dev.skiff.disk.path",
};

export interface Descriptor { mediaType: string; digest: string; size: number; annotations?: Record<string, string>; platform?: { architecture: string; os: string } }

export interface OciImageOptions {
  /** The qcow2 (or raw) disk to carry. */
  disk: string;
  /** The layout folder to (re)create. */
  out: string;
  app: string;
  skiffVersion: string;
  /** Seconds since the epoch for every date in the image. */
  epoch: number;
  /** The tag recorded in index.json (org.opencontainers.image.ref.name). */
  tag?: string;
}

export interface OciImage { dir: string; manifestDigest: string; manifestSize: number; diskSha256: string; labels: Record<string, string> }

function sha256(b: Buffer | string): string {
  return createHash("sha256").update(b).digest("hex");
}

// ---- ustar (POSIX.1-1988) -------------------------------------------------

interface TarEntry { name: string; type: "file" | "dir"; mode: number; uid: number; gid: number; mtime: number; data?: Buffer }

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function tarHeader(e: TarEntry): Buffer {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(e.name) > 100) throw new Error(`tar: name too long: ${e.name}`);
  h.write(e.name, 0, 100, "utf8");
  h.write(octal(e.mode, 8), 100, 8, "ascii");
  h.write(octal(e.uid, 8), 108, 8, "ascii");
  h.write(octal(e.gid, 8), 116, 8, "ascii");
  h.write(octal(e.data?.length ?? 0, 12), 124, 12, "ascii");
  h.write(octal(e.mtime, 12), 136, 12, "ascii");
  h.write("        ", 148, 8, "ascii");            // checksum field counts as spaces
  h.write(e.type === "dir" ? "5" : "0", 156, 1, "ascii");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write("root", 265, 32, "ascii");               // names are informative; ids rule
  h.write("root", 297, 32, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}

export function tarArchive(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e));
    if (e.data) {
      parts.push(e.data);
      const pad = (512 - (e.data.length % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(1024));                  // two zero blocks end the archive
  return Buffer.concat(parts);
}

/** The entries of a ustar archive (regular files and folders; others are listed with their type flag). */
export function readTar(b: Buffer): (TarEntry & { typeflag: string })[] {
  const out: (TarEntry & { typeflag: string })[] = [];
  let off = 0;
  while (off + 512 <= b.length) {
    const h = b.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const str = (a: number, n: number) => h.subarray(a, a + n).toString("utf8").replace(/\0.*$/s, "");
    const num = (a: number, n: number) => parseInt(str(a, n).trim() || "0", 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== num(148, 8)) throw new Error(`tar: bad header checksum at offset ${off}`);
    const prefix = str(345, 155);
    const name = (prefix ? prefix + "/" : "") + str(0, 100);
    const size = num(124, 12);
    const typeflag = str(156, 1) || "0";
    const data = b.subarray(off + 512, off + 512 + size);
    if (data.length !== size) throw new Error(`tar: ${name} is cut short`);
    out.push({ name, typeflag, type: typeflag === "5" ? "dir" : "file", mode: num(100, 8), uid: num(108, 8), gid: num(116, 8), mtime: num(136, 12), data: typeflag === "5" ? undefined : Buffer.from(data) });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

// ---- the image layout -----------------------------------------------------

function writeBlob(dir: string, content: Buffer | string): { digest: string; size: number } {
  const b = typeof content === "string" ? Buffer.from(content) : content;
  const hex = sha256(b);
  const blobs = join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  writeFileSync(join(blobs, hex), b);
  return { digest: `sha256:${hex}`, size: b.length };
}

/** Writes an OCI image layout whose one layer is /disk/<name> (uid/gid 107). */
export function makeOciImage(o: OciImageOptions): OciImage {
  const disk = readFileSync(o.disk);
  const diskName = basename(o.disk);
  const diskSha256 = sha256(disk);
  const created = new Date(o.epoch * 1000).toISOString().replace(/\.000Z$/, "Z");
  const labels: Record<string, string> = {
    [LABEL.title]: o.app,
    [LABEL.version]: o.skiffVersion,
    [LABEL.created]: created,
    [LABEL.app]: o.app,
    [LABEL.skiffVersion]: o.skiffVersion,
    [LABEL.diskSha256]: diskSha256,
    [LABEL.diskPath]: `/disk/${diskName}`,
  };
  const id = KUBEVIRT_QEMU_ID;
  const tar = tarArchive([
    { name: "disk/", type: "dir", mode: 0o755, uid: id, gid: id, mtime: o.epoch },
    { name: `disk/${diskName}`, type: "file", mode: 0o440, uid: id, gid: id, mtime: o.epoch, data: disk },
  ]);
  const layer = gzipSync(tar, { level: 9 });

  rmSync(o.out, { recursive: true, force: true });
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const layerDesc = writeBlob(o.out, layer);
  const config = {
    created,
    architecture: "amd64",
    os: "linux",
    config: { Labels: labels },
    rootfs: { type: "layers", diff_ids: [`sha256:${sha256(tar)}`] },
    history: [{ created, created_by: `skiff build --format oci (Skiff ${o.skiffVersion})` }],
  };
  const configDesc = writeBlob(o.out, JSON.stringify(config));
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, ...configDesc },
    layers: [{ mediaType: MEDIA.layerGzip, ...layerDesc }],
    annotations: labels,
  };
  const manifestDesc = writeBlob(o.out, JSON.stringify(manifest));
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [{
      mediaType: MEDIA.manifest, ...manifestDesc,
      platform: { architecture: "amd64", os: "linux" },
      annotations: { "org.opencontainers.image.ref.name": o.tag ?? "latest" },
    }],
  };
  writeFileSync(join(o.out, "index.json"), JSON.stringify(index));
  return { dir: o.out, manifestDigest: manifestDesc.digest, manifestSize: manifestDesc.size, diskSha256, labels };
}

function readBlob(dir: string, digest: string): Buffer {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new Error(`unsupported digest ${digest} (only sha256)`);
  const p = join(dir, "blobs", "sha256", m[1]);
  if (!existsSync(p)) throw new Error(`${dir}: blob ${digest} is missing`);
  const b = readFileSync(p);
  if (sha256(b) !== m[1]) throw new Error(`${dir}: blob ${digest} does not match its digest`);
  return b;
}

export interface OciManifestInfo { manifestDigest: string; manifest: { config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> }; labels: Record<string, string> }

/** The image's manifest (the first in index.json, or the one tagged `tag`) and config labels, digests checked. */
export function readOciImage(dir: string, tag?: string): OciManifestInfo {
  if (!existsSync(join(dir, "oci-layout")) || !existsSync(join(dir, "index.json"))) throw new Error(`${dir}: not an OCI image layout (no oci-layout / index.json)`);
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { manifests: Descriptor[] };
  const d = tag === undefined ? index.manifests[0] : index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
  if (!d) throw new Error(`${dir}: no manifest${tag ? ` tagged ${tag}` : ""} in index.json`);
  const manifest = JSON.parse(readBlob(dir, d.digest).toString("utf8")) as OciManifestInfo["manifest"];
  const config = JSON.parse(readBlob(dir, manifest.config.digest).toString("utf8")) as { config?: { Labels?: Record<string, string> } };
  return { manifestDigest: d.digest, manifest, labels: config.config?.Labels ?? {} };
}

/** Unpacks the disk under /disk/ from the image's layers into `outFile`; returns its tar entry. */
export function extractOciDisk(dir: string, outFile: string, tag?: string): TarEntry {
  const info = readOciImage(dir, tag);
  let found: TarEntry | undefined;
  for (const l of info.manifest.layers) {
    const blob = readBlob(dir, l.digest);
    const tar = l.mediaType.endsWith("+gzip") ? gunzipSync(blob) : blob;
    for (const e of readTar(tar)) if (e.type === "file" && /^\.?\/?disk\/[^/]+$/.test(e.name)) found = e;
  }
  if (!found?.data) throw new Error(`${dir}: no file under /disk/ in the image's layers`);
  writeFileSync(outFile, found.data);
  return found;
}
