// kernel/lib/net/wire/error.ts — why the last parse(...) returned null, so the
// interface can count drops per reason without exceptions. Layer: wire.

export enum WireError {
  None = 0,
  Truncated,       // shorter than the header or than its own length field says
  BadVersion,      // IP version, ARP hardware/protocol type, DHCP magic cookie
  BadHeaderLen,    // IHL / data offset out of range
  BadLength,       // a length field that contradicts the others
  BadChecksum,
  Unsupported,     // well-formed but not something this stack handles
  BadOption,       // an option runs past the end or has an impossible length
}

let last: WireError = WireError.None;

export function wireError(): WireError { return last; }
export function setWireError(e: WireError): void { last = e; }

export function wireErrorName(e: WireError): string {
  switch (e) {
    case WireError.None: return "none";
    case WireError.Truncated: return "truncated";
    case WireError.BadVersion: return "bad_version";
    case WireError.BadHeaderLen: return "bad_header_len";
    case WireError.BadLength: return "bad_length";
    case WireError.BadChecksum: return "bad_checksum";
    case WireError.Unsupported: return "unsupported";
    case WireError.BadOption: return "bad_option";
  }
  return "unknown";
}
