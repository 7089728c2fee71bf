// cli/lib/sitefs.ts — the read-only site image the httpd app serves from a
// virtio-blk disk (or embeds): a header, a sorted directory, then each file's
// bytes at a sector-aligned offset. Built here from a folder (`skiff mkfs`);
// read in the guest by apps/httpd/sitefs.ts. All integers little-endian.
//
//   0    header (sector 0)
//        0 "SKIFFSFS"  8 u32 version (1)  12 u32 file count  16 u32 directory offset (512)
//        20 u32 directory bytes  24 u64 image bytes  32 u32 CRC-32 of the directory
//        36 u32 CRC-32 of header bytes 0..36
//   512  directory: one entry per file, sorted by path bytes
//        0 u16 path length  2 u16 flags (0)  4 u32 CRC-32 of the file's bytes
//        8 u64 data offset (a multiple of 512)  16 u64 size
//        24 16 bytes: the ETag (the first 128 bits of the file's SHA-256)
//        40 path (UTF-8, "/"-separated, no leading "/"), zero-padded to a multiple of 8
//   then file data, each file starting on a 512-byte boundary; the image is
//   padded to a multiple of 512 (a virtio-blk disk is whole sectors).
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const SITEFS_MAGIC = "SKIFFSFS";
export const SITEFS_VERSION = 1;
export const SECTOR = 512;
const HEADER_BYTES = 40;
const ENTRY_BYTES = 40;
export const MAX_PATH_BYTES = 1024;

export interface SiteFile {
  /** "/"-separated path relative to the site root, e.g. "css/site.css". */
  path: string;
  data: Uint8Array;
}

export interface SiteEntry {
  path: string;
  offset: number;
  size: number;
  crc: number;
  etag: string;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** The files under dir (regular files only; names starting with "." and
 *  symbolic links are skipped), in path order. */
export function collectFiles(dir: string): { files: SiteFile[]; skipped: string[] } {
  const files: SiteFile[] = [];
  const skipped: string[] = [];
  const walk = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      if (name.startsWith(".")) { skipped.push(r); continue; }
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p, r);
      else if (st.isFile()) files.push({ path: r, data: readFileSync(p) });
      else skipped.push(r);
    }
  };
  walk(dir, "");
  return { files, skipped };
}

/** Builds an image of files (any order; paths must be unique). */
export function buildSiteImage(files: SiteFile[]): Buffer {
  const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a.path, "utf8"), Buffer.from(b.path, "utf8")));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].path === sorted[i - 1].path) throw new Error(`duplicate path ${sorted[i].path}`);
  }
  const entries = sorted.map((f) => {
    const path = Buffer.from(f.path, "utf8");
    if (path.length === 0 || path.length > MAX_PATH_BYTES) throw new Error(`path too long or empty: ${f.path}`);
    if (f.path.startsWith("/") || f.path.split("/").some((s) => s === "" || s === "." || s === "..")) throw new Error(`bad path: ${f.path}`);
    return { f, path, bytes: align(ENTRY_BYTES + path.length, 8) };
  });
  const dirOffset = SECTOR;
  const dirBytes = entries.reduce((n, e) => n + e.bytes, 0);
  let dataAt = align(dirOffset + dirBytes, SECTOR);
  const offsets = entries.map((e) => {
    const at = dataAt;
    dataAt = align(dataAt + e.f.data.length, SECTOR);
    return at;
  });
  const total = Math.max(dataAt, align(dirOffset + dirBytes, SECTOR), SECTOR * 2);
  const img = Buffer.alloc(total);
  let at = dirOffset;
  entries.forEach((e, i) => {
    img.writeUInt16LE(e.path.length, at);
    img.writeUInt16LE(0, at + 2);
    img.writeUInt32LE(crc32(e.f.data), at + 4);
    img.writeBigUInt64LE(BigInt(offsets[i]), at + 8);
    img.writeBigUInt64LE(BigInt(e.f.data.length), at + 16);
    createHash("sha256").update(e.f.data).digest().copy(img, at + 24, 0, 16);
    e.path.copy(img, at + ENTRY_BYTES);
    at += e.bytes;
    img.set(e.f.data, offsets[i]);
  });
  img.write(SITEFS_MAGIC, 0, "latin1");
  img.writeUInt32LE(SITEFS_VERSION, 8);
  img.writeUInt32LE(entries.length, 12);
  img.writeUInt32LE(dirOffset, 16);
  img.writeUInt32LE(dirBytes, 20);
  img.writeBigUInt64LE(BigInt(total), 24);
  img.writeUInt32LE(crc32(img.subarray(dirOffset, dirOffset + dirBytes)), 32);
  img.writeUInt32LE(crc32(img.subarray(0, 36)), 36);
  return img;
}

/** Reads an image back (for `skiff mkfs --list` and tests); throws on damage. */
export function readSiteImage(img: Uint8Array): SiteEntry[] {
  const b = Buffer.from(img.buffer, img.byteOffset, img.byteLength);
  if (b.length < HEADER_BYTES || b.toString("latin1", 0, 8) !== SITEFS_MAGIC) throw new Error("not a Skiff site image (no SKIFFSFS magic)");
  if (b.readUInt32LE(8) !== SITEFS_VERSION) throw new Error(`unsupported site image version ${b.readUInt32LE(8)}`);
  if (crc32(b.subarray(0, 36)) !== b.readUInt32LE(36)) throw new Error("header checksum mismatch");
  const count = b.readUInt32LE(12), dirOffset = b.readUInt32LE(16), dirBytes = b.readUInt32LE(20);
  if (dirOffset + dirBytes > b.length) throw new Error("directory runs past the end of the image");
  if (crc32(b.subarray(dirOffset, dirOffset + dirBytes)) !== b.readUInt32LE(32)) throw new Error("directory checksum mismatch");
  const out: SiteEntry[] = [];
  let at = dirOffset;
  for (let i = 0; i < count; i++) {
    const plen = b.readUInt16LE(at);
    const path = b.toString("utf8", at + ENTRY_BYTES, at + ENTRY_BYTES + plen);
    const offset = Number(b.readBigUInt64LE(at + 8));
    const size = Number(b.readBigUInt64LE(at + 16));
    const e = { path, offset, size, crc: b.readUInt32LE(at + 4), etag: b.toString("hex", at + 24, at + 40) };
    if (offset + size > b.length) throw new Error(`${path}: data runs past the end of the image`);
    if (crc32(b.subarray(offset, offset + size)) !== e.crc) throw new Error(`${path}: data checksum mismatch`);
    out.push(e);
    at += align(ENTRY_BYTES + plen, 8);
  }
  return out;
}
