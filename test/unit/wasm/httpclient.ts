// test/unit/wasm/httpclient.ts — drives the HTTP client's pure parts from
// Node: the incremental response parser (kernel/lib/http/respparser.ts) and URL
// splitting (kernel/lib/http/client.ts parseHttpUrl).
import { ResponseParser, ResponseLimits } from "../../../kernel/lib/http/respparser";
import { parseHttpUrl } from "../../../kernel/lib/http/client";
export { abortHandler } from "../../../kernel/core/panic";

let p: ResponseParser = new ResponseParser();

export function newParser(head: bool, maxBody: i64, maxHeaderBytes: i32, maxHeaders: i32): void {
  const l = new ResponseLimits();
  l.maxBody = maxBody;
  if (maxHeaderBytes > 0) l.maxHeaderBytes = maxHeaderBytes;
  if (maxHeaders > 0) l.maxHeaders = maxHeaders;
  p = new ResponseParser(l);
  p.reset(head);
}
export function feed(ptr: usize, len: i32): i32 { return p.feed(ptr, len); }
export function eof(): void { p.eof(); }
export function state(): i32 { return p.state; }

function q(s: string): string {
  let o = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 34 || c == 92) o += "\\" + String.fromCharCode(c);
    else if (c < 32 || c > 126) o += "\\u" + c.toString(16).padStart(4, "0");
    else o += String.fromCharCode(c);
  }
  return o + "\"";
}

/** The parser's view as JSON. */
export function describe(): string {
  let h = "[";
  for (let i = 0; i < p.headers.length; i++) h += (i > 0 ? "," : "") + "[" + q(p.headers[i].name) + "," + q(p.headers[i].value) + "]";
  h += "]";
  return "{\"state\":" + p.state.toString() + ",\"status\":" + p.status.toString() + ",\"reason\":" + q(p.reason) +
    ",\"minor\":" + p.minor.toString() + ",\"headers\":" + h + ",\"body\":" + q(p.body.toUtf8String()) +
    ",\"bodyBytes\":" + p.bodyBytes.toString() + ",\"error\":" + q(p.error) + ",\"keepAlive\":" + (p.keepAlive ? "true" : "false") +
    ",\"chunked\":" + (p.chunked ? "true" : "false") + ",\"closeDelimited\":" + (p.closeDelimited ? "true" : "false") + "}";
}

export function url(s: string): string {
  const u = parseHttpUrl(s);
  if (!u.ok) return "{\"error\":" + q(u.error) + "}";
  return "{\"host\":" + q(u.host) + ",\"port\":" + u.port.toString() + ",\"target\":" + q(u.target) + "}";
}
