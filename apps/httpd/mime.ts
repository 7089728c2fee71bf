// apps/httpd/mime.ts — media types by file extension (the common web types of
// the IANA registry, as nginx's mime.types and Apache's ship them). Text types
// say charset=utf-8; anything unknown is application/octet-stream (RFC 9110
// §8.3: a sender without a better idea uses it, and browsers will not sniff it).

const EXT: string[] = [
  "html", "text/html; charset=utf-8",
  "htm", "text/html; charset=utf-8",
  "css", "text/css; charset=utf-8",
  "js", "text/javascript; charset=utf-8",
  "mjs", "text/javascript; charset=utf-8",
  "json", "application/json",
  "map", "application/json",
  "webmanifest", "application/manifest+json",
  "xml", "application/xml",
  "txt", "text/plain; charset=utf-8",
  "md", "text/markdown; charset=utf-8",
  "csv", "text/csv; charset=utf-8",
  "svg", "image/svg+xml",
  "png", "image/png",
  "jpg", "image/jpeg",
  "jpeg", "image/jpeg",
  "gif", "image/gif",
  "webp", "image/webp",
  "avif", "image/avif",
  "ico", "image/vnd.microsoft.icon",
  "bmp", "image/bmp",
  "woff", "font/woff",
  "woff2", "font/woff2",
  "ttf", "font/ttf",
  "otf", "font/otf",
  "wasm", "application/wasm",
  "pdf", "application/pdf",
  "zip", "application/zip",
  "gz", "application/gzip",
  "tar", "application/x-tar",
  "mp3", "audio/mpeg",
  "ogg", "audio/ogg",
  "wav", "audio/wav",
  "mp4", "video/mp4",
  "webm", "video/webm",
];

export const DEFAULT_MIME = "application/octet-stream";

/** The media type for path's extension (case-insensitive). */
export function mimeType(path: string): string {
  const slash = path.lastIndexOf("/");
  const dot = path.lastIndexOf(".");
  if (dot <= slash + 1) return DEFAULT_MIME;   // no extension, or a dotfile name
  const ext = path.substring(dot + 1).toLowerCase();
  for (let i = 0; i < EXT.length; i += 2) {
    if (unchecked(EXT[i]) == ext) return unchecked(EXT[i + 1]);
  }
  return DEFAULT_MIME;
}
