// kernel/http — the HTTP/1.1 server library (RFC 9110, RFC 9112) used by the
// REST endpoint (kernel/api) and by apps: an incremental request parser, a
// router with path parameters, and a socket-agnostic connection core.
export { ByteBuf } from "./buf";
export { Header, Request, percentDecode, decodeUtf8Lossy } from "./request";
export { Response, Handler, BodySource, serializeResponse, errorJson, MIME_JSON, MIME_TEXT, MIME_OCTETS } from "./response";
export { RequestParser, isToken } from "./parser";
export { HttpLimits } from "./limits";
export { Router, Route, splitPath } from "./router";
export { BearerAuth, AuthObserver, isStateChanging, constantTimeEquals } from "./auth";
export { HttpServer, HttpConnection, HttpObserver, HttpServerStats } from "./server";
export { WallClock, FixedOffsetClock, httpDate, isoDate, CivilTime } from "./clock";
export * from "./status";
export { HttpTcpService } from "./tcp";
