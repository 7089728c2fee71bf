// kernel/http/status.ts — status codes the server and its users send, with the
// reason phrases of RFC 9110 §15 (the phrase is advisory; clients ignore it).

export const STATUS_CONTINUE: i32 = 100;
export const STATUS_OK: i32 = 200;
export const STATUS_CREATED: i32 = 201;
export const STATUS_ACCEPTED: i32 = 202;
export const STATUS_NO_CONTENT: i32 = 204;
export const STATUS_PARTIAL_CONTENT: i32 = 206;
export const STATUS_NOT_MODIFIED: i32 = 304;
export const STATUS_BAD_REQUEST: i32 = 400;
export const STATUS_UNAUTHORIZED: i32 = 401;
export const STATUS_FORBIDDEN: i32 = 403;
export const STATUS_NOT_FOUND: i32 = 404;
export const STATUS_METHOD_NOT_ALLOWED: i32 = 405;
export const STATUS_REQUEST_TIMEOUT: i32 = 408;
export const STATUS_LENGTH_REQUIRED: i32 = 411;
export const STATUS_CONTENT_TOO_LARGE: i32 = 413;
export const STATUS_URI_TOO_LONG: i32 = 414;
export const STATUS_UNSUPPORTED_MEDIA_TYPE: i32 = 415;
export const STATUS_RANGE_NOT_SATISFIABLE: i32 = 416;
export const STATUS_EXPECTATION_FAILED: i32 = 417;
export const STATUS_HEADERS_TOO_LARGE: i32 = 431;
export const STATUS_INTERNAL_ERROR: i32 = 500;
export const STATUS_NOT_IMPLEMENTED: i32 = 501;
export const STATUS_SERVICE_UNAVAILABLE: i32 = 503;
export const STATUS_VERSION_NOT_SUPPORTED: i32 = 505;

export function reasonPhrase(status: i32): string {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status " + status.toString();
  }
}

/** RFC 9110 §6.4.1: 1xx, 204 and 304 responses never carry content. */
export function statusHasNoBody(status: i32): bool {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}
