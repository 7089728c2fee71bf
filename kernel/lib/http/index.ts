// kernel/lib/http — the HTTP/1.1 server library (RFC 9110, RFC 9112) used by the
// REST endpoint (kernel/api) and by apps: an incremental request parser, a
// router with path parameters, and a socket-agnostic connection core.
export { ByteBuf } from "./buf";
export { Header, Request, percentDecode, decodeUtf8Lossy } from "./request";
export { Response, HeaderLine, Handler, BodySource, BytesSource, serializeResponse, errorJson, MIME_JSON, MIME_TEXT, MIME_OCTETS } from "./response";
export { RequestParser, isToken, findByte } from "./parser";
export { HttpLimits } from "./limits";
export { Router, Route, splitPath, PathSegs, HandlerFn, FnHandler, toHandler } from "./router";
export { BearerAuth, AuthThrottle, AuthObserver, isStateChanging, constantTimeEquals } from "./auth";
export { HttpServer, HttpConnection, HttpObserver, HttpServerStats, HttpTransport, listeningServers } from "./server";
export { BodyBudget, bodyBudget } from "./budget";
export { WallClock, FixedOffsetClock, httpDate, isoDate, CivilTime } from "./clock";
export * from "./status";
export { HttpTcpService } from "./tcp";
export { ResponseParser, ResponseLimits, BodySink } from "./respparser";
export {
  HttpClient, HttpClientRequest, HttpClientResponse, HttpClientHandler, HttpCallback, HttpUrl, parseHttpUrl, httpErrorName,
  HTTP_OK, HTTP_ERR_URL, HTTP_ERR_RESOLVE, HTTP_ERR_CONNECT, HTTP_ERR_TIMEOUT, HTTP_ERR_CLOSED, HTTP_ERR_PROTOCOL,
  HTTP_ERR_TOO_LARGE, HTTP_ERR_NETWORK, HTTP_ERR_BAD_REQUEST,
} from "./client";
