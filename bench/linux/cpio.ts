// bench/linux/cpio.ts — a deterministic "newc" cpio writer (the initramfs
// format, linux/Documentation/driver-api/early-userspace/buffer-format.rst):
// fixed inode numbers, mtime 0, uid/gid 0, entries in the order given.
export type CpioEntry =
  | { path: string; type: "dir"; mode?: number }
  | { path: string; type: "file"; data: Buffer; mode?: number }
  | { path: string; type: "symlink"; target: string }
  | { path: string; type: "chardev"; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000, S_IFCHR = 0o020000;

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

function pad4(n: number): Buffer {
  return Buffer.alloc((4 - (n % 4)) % 4);
}

function record(ino: number, mode: number, name: string, data: Buffer, rdev: [number, number] = [0, 0], nlink = 1): Buffer[] {
  const nameBuf = Buffer.from(name + "\0");
  const header = "070701" + [ino, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], nameBuf.length, 0].map(hex8).join("");
  const head = Buffer.concat([Buffer.from(header, "ascii"), nameBuf]);
  return [head, pad4(head.length), data, pad4(data.length)];
}

export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, "");
    switch (e.type) {
      case "dir": parts.push(...record(ino++, S_IFDIR | (e.mode ?? 0o755), name, Buffer.alloc(0), [0, 0], 2)); break;
      case "file": parts.push(...record(ino++, S_IFREG | (e.mode ?? 0o644), name, e.data)); break;
      case "symlink": parts.push(...record(ino++, S_IFLNK | 0o777, name, Buffer.from(e.target))); break;
      case "chardev": parts.push(...record(ino++, S_IFCHR | (e.mode ?? 0o600), name, Buffer.alloc(0), [e.major, e.minor])); break;
    }
  }
  parts.push(...record(0, 0, "TRAILER!!!", Buffer.alloc(0), [0, 0], 1));
  const out = Buffer.concat(parts);
  // The kernel reads the archive in 512-byte blocks: pad the end.
  return Buffer.concat([out, Buffer.alloc((512 - (out.length % 512)) % 512)]);
}
