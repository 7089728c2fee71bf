// kernel/lib/json — JSON (RFC 8259) for the REST endpoint and apps: a builder that
// writes text, a strict reader that returns null on any error.
export { JsonWriter, jsonString, quoteJson, formatNumber } from "./encode";
export {
  JsonValue, parseJson, parseJsonBytes, parseJsonArray, lastJsonError, isValidUtf8, utf8SequenceAt,
  JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT,
  DEFAULT_MAX_DEPTH, DEFAULT_MAX_BYTES,
} from "./decode";
