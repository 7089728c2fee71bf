// kernel/api/openapi.ts — the OpenAPI 3.0.3 document for a router, generated
// from its route table (so it lists exactly what is served): one operation per
// route with its path parameters, documented query parameters, request body,
// success response and, for token-protected routes, the bearer security
// requirement with 401/403.
import { Router, Route } from "../lib/http";
import { JsonWriter } from "../lib/json";

// @ts-ignore: decorator
@lazy
const ERROR_SCHEMA = "{\"type\":\"object\",\"properties\":{\"code\":{\"type\":\"integer\"},\"message\":{\"type\":\"string\"}},\"required\":[\"code\",\"message\"]}";

export function openApiDocument(router: Router, title: string, version: string, description: string): string {
  const w = new JsonWriter();
  w.beginObject();
  w.propString("openapi", "3.0.3");
  w.key("info").beginObject().propString("title", title).propString("version", version)
    .propString("description", description).endObject();
  // Group routes by pattern, in first-seen order.
  const patterns = new Array<string>();
  for (let i = 0; i < router.routes.length; i++) {
    const p = openApiPath(unchecked(router.routes[i]));
    if (!patterns.includes(p)) patterns.push(p);
  }
  const usedIds = new Array<string>();
  w.key("paths").beginObject();
  for (let p = 0; p < patterns.length; p++) {
    const path = unchecked(patterns[p]);
    w.key(path).beginObject();
    for (let i = 0; i < router.routes.length; i++) {
      const r = unchecked(router.routes[i]);
      if (openApiPath(r) != path) continue;
      operation(w, r, usedIds);
    }
    w.endObject();
  }
  w.endObject();
  w.key("components").beginObject();
  w.key("securitySchemes").beginObject()
    .key("bearerAuth").beginObject().propString("type", "http").propString("scheme", "bearer").endObject()
    .endObject();
  w.key("schemas").beginObject().key("Error").raw(ERROR_SCHEMA).endObject();
  w.key("responses").beginObject();
  errorResponse(w, "Unauthorized", "A valid bearer token is required.");
  errorResponse(w, "Forbidden", "The endpoint is read-only.");
  errorResponse(w, "NotFound", "No such resource.");
  errorResponse(w, "BadRequest", "The request was malformed.");
  w.endObject();
  w.endObject();
  w.endObject();
  return w.toString();
}

function errorResponse(w: JsonWriter, name: string, description: string): void {
  w.key(name).beginObject().propString("description", description)
    .key("content").beginObject().key("application/json").beginObject()
    .key("schema").beginObject().propString("$ref", "#/components/schemas/Error").endObject()
    .endObject().endObject().endObject();
}

/** The route's pattern in OpenAPI form: {name...} becomes {name}. */
function openApiPath(r: Route): string {
  return r.pattern.replaceAll("...}", "}");
}

/** getOsMemoryTotal, putConfigByKey, getEnvList for "/env/". */
function operationId(r: Route): string {
  let id = r.method.toLowerCase();
  for (let i = 0; i < r.segments.length; i++) {
    const s = unchecked(r.segments[i]);
    if (unchecked(r.isParam[i])) id += "By" + camel(s);
    else if (s.length == 0) id += i == r.segments.length - 1 && i > 0 ? "List" : "Root";
    else id += camel(s);
  }
  return id;
}

function camel(s: string): string {
  let out = "";
  let up = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    const code = s.charCodeAt(i);
    const alnum = (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
    if (!alnum) { up = true; continue; }
    out += up ? c.toUpperCase() : c;
    up = false;
  }
  return out;
}

function operation(w: JsonWriter, r: Route, usedIds: string[]): void {
  let id = operationId(r);
  if (usedIds.includes(id)) {
    let n = 2;
    while (usedIds.includes(id + n.toString())) n++;
    id += n.toString();
  }
  usedIds.push(id);
  w.key(r.method.toLowerCase()).beginObject();
  w.propString("operationId", id);
  if (r.summary.length > 0) w.propString("summary", r.summary);
  if (r.tag.length > 0) w.key("tags").beginArray().string(r.tag).endArray();
  if (r.paramNames.length > 0 || r.queryParams.length > 0) {
    w.key("parameters").beginArray();
    for (let i = 0; i < r.paramNames.length; i++) {
      w.beginObject().propString("name", unchecked(r.paramNames[i])).propString("in", "path").propBool("required", true)
        .key("schema").beginObject().propString("type", "string").endObject().endObject();
    }
    for (let i = 0; i < r.queryParams.length; i++) {
      w.beginObject().propString("name", unchecked(r.queryParams[i])).propString("in", "query").propBool("required", false)
        .key("schema").beginObject().propString("type", "string").endObject().endObject();
    }
    w.endArray();
  }
  const req = r.requestSchema;
  if (req !== null) {
    w.key("requestBody").beginObject().propBool("required", false).key("content").beginObject();
    w.key(r.consumes).beginObject().key("schema").raw(req).endObject();
    if (r.consumes != "text/plain") w.key("text/plain").beginObject().key("schema").beginObject().propString("type", "string").endObject().endObject();
    w.endObject().endObject();
  }
  if (r.auth) w.key("security").beginArray().beginObject().key("bearerAuth").beginArray().endArray().endObject().endArray();
  w.key("responses").beginObject();
  const ok = r.okStatus;
  w.key(ok.toString()).beginObject().propString("description", ok == 204 ? "Done; no content." : "Success.");
  const schema = r.responseSchema;
  if (ok != 204) {
    w.key("content").beginObject().key(r.produces).beginObject();
    if (schema !== null) w.key("schema").raw(schema);
    else w.key("schema").beginObject().endObject();
    w.endObject().endObject();
  }
  w.endObject();
  if (r.paramNames.length > 0 || r.requestSchema !== null || r.queryParams.length > 0) refResponse(w, "400", "BadRequest");
  if (r.paramNames.length > 0) refResponse(w, "404", "NotFound");
  if (r.auth) { refResponse(w, "401", "Unauthorized"); refResponse(w, "403", "Forbidden"); }
  w.endObject();
  w.endObject();
}

function refResponse(w: JsonWriter, code: string, name: string): void {
  w.key(code).beginObject().propString("$ref", "#/components/responses/" + name).endObject();
}
