// test/system/service.test.ts — the service API as an app author uses it:
// apps/counter (serve(), a Router with plain-function handlers, a path
// parameter, a JSON body in and out) booted under QEMU TCG on microvm with
// user networking, its port 8080 forwarded to a free loopback port.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boot, stopAll, type Guest } from "../../harness/index.js";
import { freePort } from "./ports.js";

afterAll(stopAll);

describe("serve() and function handlers (apps/counter, microvm, TCG)", () => {
  let g: Guest;
  let base = "";

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    g = await boot({ app: "apps/counter", timeoutMs: 240_000, net: "user", forwards: [`${port}:8080`] });
    await g.waitFor(/counter: listening on TCP port 8080 at 10\.0\.2\.15/, 120_000);
  }, 300_000);

  it("routes to plain functions, with path parameters and JSON in and out", async () => {
    let r = await fetch(`${base}/hello/world`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(await r.json()).toEqual({ hello: "world" });
    expect(await (await fetch(`${base}/hello/d%C3%A9j%C3%A0%20vu`)).json()).toEqual({ hello: "déjà vu" });
    expect(await (await fetch(`${base}/count`, { method: "POST" })).json()).toEqual({ hits: 1 });
    r = await fetch(`${base}/count`, { method: "POST", body: JSON.stringify({ by: 5 }), headers: { "Content-Type": "application/json" } });
    expect(await r.json()).toEqual({ hits: 6 });
  });

  it("answers what no route takes with 404 and 405, as the router does", async () => {
    const nf = await fetch(`${base}/nothing`);
    expect(nf.status).toBe(404);
    await nf.arrayBuffer();
    const na = await fetch(`${base}/count`);
    expect(na.status).toBe(405);
    expect(na.headers.get("allow")).toContain("POST");
    await na.arrayBuffer();
  });
});
