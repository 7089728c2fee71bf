// test/unit/asc-hints.test.ts — an app written with a TypeScript habit that
// AssemblyScript lacks fails to build with asc's error followed by a one-line
// hint naming the Skiff way (real asc runs on real app files).
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "../../cli/lib/build.js";
import { nodeIO } from "../../cli/lib/log.js";
import { explainAscFailure } from "../../cli/lib/asc-hints.js";

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function app(src: string): string {
  const d = mkdtempSync(join(tmpdir(), "skiff-hint-"));
  dirs.push(d);
  mkdirSync(join(d, "app"));
  writeFileSync(join(d, "app", "main.ts"), src);
  return join(d, "app");
}

async function buildError(dir: string): Promise<string> {
  const io = { ...nodeIO(), out: () => {}, raw: () => {}, err: () => {} };
  try {
    await build({ app: dir, quiet: true, outDir: join(dir, "..", "out") }, io);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("the build succeeded");
}

describe("compile errors from TypeScript habits", () => {
  it("a closure handler: asc's error, then the hint to use a plain function or a Handler", async () => {
    const msg = await buildError(app(`import { serve, Router, Request, Response } from "skiff";
export function main(): i32 {
  let hits = 0;
  const app = new Router();
  app.get("/", (req: Request, res: Response): void => { hits++; res.text(200, hits.toString()); });
  return serve(8080, app) !== null ? 0 : 1;
}
`));
    expect(msg).toMatch(/ERROR AS100: Not implemented: Closures/);
    expect(msg).toMatch(/\nhint: functions cannot capture local variables: keep state in module-level variables/);
    expect(msg).not.toMatch(/^INFO /m);   // the kernel's own notes are not the user's problem
  }, 240_000);

  it("a handler that is neither a function nor a Handler, and try/catch: each error with its hint", async () => {
    const msg = await buildError(app(`import { serve, Router } from "skiff";
export function main(): i32 {
  const app = new Router();
  app.get("/", 42);
  try { serve(8080, app); } catch (e) { return 1; }
  return 0;
}
`));
    expect(msg).toMatch(/A route handler is a function \(req: Request, res: Response\) => void or an object of a class that extends Handler/);
    expect(msg).toMatch(/ERROR AS100: Not implemented: Exceptions/);
    expect(msg).toMatch(/\nhint: there is no try\/catch\/throw/);
  }, 240_000);

  it("explainAscFailure keeps errors, drops INFO and WARNING blocks, and adds each hint once", () => {
    const out = [
      "INFO AS210: Expression is never 'null'.", "   :", " 1 │ x!", "   └─ in kernel/a.ts:1:1", "",
      "ERROR TS2304: Cannot find name 'any'.", "   :", "   └─ in app/main.ts:2:10", "",
      "ERROR TS2304: Cannot find name 'any'.", "   :", "   └─ in app/main.ts:3:10", "",
      "FAILURE 2 compile error(s)",
    ].join("\n");
    const text = explainAscFailure(out);
    expect(text).not.toContain("INFO");
    expect(text.match(/ERROR TS2304/g)).toHaveLength(2);
    expect(text.match(/^hint: /gm)).toHaveLength(1);
    expect(text).toMatch(/hint: there is no `any`/);
  });
});
