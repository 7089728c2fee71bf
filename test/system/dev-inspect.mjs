// test/system/dev-inspect.mjs — a debugger client for dev.test.ts (run with
// node --experimental-websocket): attaches to `skiff dev --inspect`'s instance
// over the inspector protocol, reads the Wasm script's inlined source map, sets
// a breakpoint at the Wasm offset the map gives for a line of the app's
// TypeScript, makes an HTTP request that reaches it, and reports where the
// instance paused (mapped back through the source map) and the answer after
// resuming. With "brk" (skiff dev --inspect-brk) it first lets the waiting
// instance go on and expects it to pause before the kernel starts.
// Usage: node --experimental-websocket dev-inspect.mjs INSPECT_PORT HTTP_PORT SOURCE_SUFFIX LINE_TEXT [brk]
const [inspectPort, httpPort, suffix, lineText, brk] = process.argv.slice(2);

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
function decodeMappings(s) {
  const out = [];   // [genLine, genCol, src, srcLine, srcCol]
  let line = 0, col = 0, src = 0, sl = 0, sc = 0;
  for (const l of s.split(";")) {
    col = 0;
    for (const seg of l.split(",")) {
      if (!seg) continue;
      const v = [];
      let n = 0, shift = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        n += (d & 31) << shift;
        if (d & 32) shift += 5;
        else { v.push(n & 1 ? -(n >>> 1) : n >>> 1); n = 0; shift = 0; }
      }
      col += v[0];
      if (v.length >= 4) { src += v[1]; sl += v[2]; sc += v[3]; out.push([line, col, src, sl, sc]); }
    }
    line++;
  }
  return out;
}

const list = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json();
const ws = new WebSocket(list[0].webSocketDebuggerUrl);
await new Promise((res, rej) => { ws.onopen = res; ws.onerror = rej; });
let nextId = 1;
const pending = new Map();
const events = [];
let onEvent = () => {};
ws.onmessage = (m) => {
  const msg = JSON.parse(m.data);
  if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); return; }
  events.push(msg);
  onEvent();
};
const call = (method, params = {}) => new Promise((res) => {
  const id = nextId++;
  pending.set(id, res);
  ws.send(JSON.stringify({ id, method, params }));
});
const waitEvent = (pred, ms) => new Promise((res, rej) => {
  const t = setTimeout(() => rej(new Error("timeout waiting for an inspector event")), ms);
  const check = () => { const e = events.find(pred); if (e) { clearTimeout(t); res(e); } };
  onEvent = check;
  check();
});

const result = {};
await call("Debugger.enable");
if (brk === "brk") {
  await call("Runtime.runIfWaitingForDebugger");
  const first = await waitEvent((e) => e.method === "Debugger.paused", 60000);
  result.firstPause = first.params.callFrames[0].functionName;
  events.splice(events.indexOf(first), 1);
}
const script = await waitEvent((e) => e.method === "Debugger.scriptParsed" && (e.params.sourceMapURL ?? "").startsWith("data:"), 30000);
result.sourceMapURL = script.params.sourceMapURL.slice(0, 30);
const map = JSON.parse(Buffer.from(script.params.sourceMapURL.split(",")[1], "base64").toString());
const si = map.sources.findIndex((s) => s.endsWith(suffix));
result.source = map.sources[si];
const lineNo = map.sourcesContent[si].split("\n").findIndex((l) => l.includes(lineText));
result.line = lineNo + 1;
const maps = decodeMappings(map.mappings);
const hit = maps.find((m) => m[2] === si && m[3] === lineNo);
result.offset = hit ? hit[1] : null;
const bp = await call("Debugger.setBreakpoint", { location: { scriptId: script.params.scriptId, lineNumber: 0, columnNumber: hit[1] } });
result.breakpoint = bp.error ? bp.error.message : "set";
if (brk === "brk") {
  await call("Debugger.resume");
  // The app starts listening once resumed: retry until it answers (the breakpoint pauses it).
  for (let i = 0; i < 600; i++) {
    const ok = await new Promise((res) => {
      import("node:net").then(({ connect }) => {
        const s = connect({ host: "127.0.0.1", port: Number(httpPort) });
        s.once("connect", () => { s.destroy(); res(true); });
        s.once("error", () => res(false));
      });
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
}
const answer = fetch(`http://127.0.0.1:${httpPort}/`).then((r) => r.text());
const paused = await waitEvent((e) => e.method === "Debugger.paused", 60000);
const top = paused.params.callFrames[0];
result.pausedIn = top.functionName;
const back = maps.filter((m) => m[1] <= top.location.columnNumber).pop();
result.pausedAt = back ? `${map.sources[back[2]]}:${back[3] + 1}` : null;
await call("Debugger.removeBreakpoint", { breakpointId: bp.result.breakpointId });
await call("Debugger.resume");
result.answer = await answer;
console.log(JSON.stringify(result));
ws.close();
process.exit(0);
