// test/app.test.ts — boots the app under QEMU with Skiff's harness and talks
// to it over HTTP through a port forwarded to 127.0.0.1.
import { afterAll, expect, it } from "vitest";
import { createServer } from "node:net";
import { boot, stopAll } from "skiff/harness";

afterAll(stopAll);

/** A TCP port free on 127.0.0.1 right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

it("answers GET /hello/{name}", async () => {
  const port = await freePort();
  const guest = await boot({ app: ".", net: "user", forwards: [`${port}:8080`], timeoutMs: 120_000 });
  await guest.waitFor(/listening on TCP port 8080/, 90_000);
  const res = await fetch(`http://127.0.0.1:${port}/hello/tests`);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe("Hello, tests!\n");
  await guest.stop();
}, 600_000);   // the first run builds the kernel and the app (a few minutes on a busy machine)
