// cli/lib/asc-hints.ts — what the AssemblyScript compiler says, made useful to
// someone who writes TypeScript: kernel-internal INFO/WARNING noise dropped,
// and after each error caused by a TypeScript habit that AssemblyScript does
// not have (closures, exceptions, any, unions, object literals, undefined), a
// one-line hint naming the Skiff way. docs/APPS.md says the same at length.

interface Hint { test: RegExp; hint: string }

const HINTS: Hint[] = [
  {
    test: /Not implemented: Closures/,
    hint: "functions cannot capture local variables: keep state in module-level variables or in the fields of a class " +
      "(extend Handler or TimerHandler), and pass a plain function such as `function hello(req: Request, res: Response): void`",
  },
  {
    test: /Not implemented: Exceptions/,
    hint: "there is no try/catch/throw: return an error value (null, a status code) and check it; a fault inside a request " +
      "handler ends only that request, with 500",
  },
  {
    test: /Cannot find name 'any'/,
    hint: "there is no `any`: give the concrete type, use a generic <T>, or JsonValue for JSON of unknown shape",
  },
  {
    test: /Not implemented: union types/,
    hint: "no union types except `T | null`: use one type, an overload-free generic <T>, or a class with a kind field",
  },
  {
    test: /Type '<object>' is not assignable/,
    hint: "object literals need a declared class type (`const p: Point = { x: 1, y: 2 }` with `class Point { x: i32; y: i32 }`); " +
      "for JSON, build it with JsonWriter",
  },
  {
    test: /Cannot find name 'undefined'/,
    hint: "there is no `undefined`: use `null` with a nullable type (`string | null`), or a default value",
  },
];

/** The hints for the errors in asc's output, one line each, in order, without repeats. */
export function ascHints(output: string): string[] {
  const out: string[] = [];
  for (const h of HINTS) if (h.test.test(output)) out.push(`hint: ${h.hint}`);
  return out;
}

/** asc's output with its INFO and WARNING blocks left out (they are about the
 *  kernel's own code and bury the errors), followed by the hints. */
export function explainAscFailure(output: string): string {
  const blocks = output.split(/\n(?=(?:ERROR|WARNING|INFO|FAILURE) )/);
  const kept = blocks.filter((b) => !/^(INFO|WARNING) /.test(b)).join("\n").trimEnd();
  const hints = ascHints(output);
  return hints.length ? `${kept}\n\n${hints.join("\n")}` : kept;
}
