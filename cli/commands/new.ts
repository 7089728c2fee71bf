// cli/commands/new.ts — `skiff new NAME`: a working project in ./NAME from
// cli/templates/new (a small HTTP service, tsconfigs under which tsc reports no
// errors, a vitest test that boots the app with the harness, .gitignore, a
// README), with a package.json that depends on this Skiff, then npm install.
import { execa } from "execa";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { IO, UserError } from "../lib/log.js";
import { OptionSpecs, helpText, parseOptions } from "../lib/options.js";
import { skiffRoot } from "../lib/paths.js";
import { projectRoot } from "./test.js";

const specs: OptionSpecs = {
  install: { type: "boolean", help: "run npm install in the new project (--install=no to skip)", default: true },
  help: { type: "boolean", help: "show this help", alias: "h" },
};

/** npm package names that are also safe in the app's log lines and file names. */
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

interface PackageJson {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function readPackage(dir: string): PackageJson | null {
  try {
    return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageJson;
  } catch {
    return null;
  }
}

/** How the new project depends on Skiff: as the project around it does (a
 *  file: tarball or folder rewritten relative to the new folder), else this
 *  checkout as a file: folder, else the version from the registry. */
export function skiffSpec(cwd: string, target: string): string {
  const root = skiffRoot();
  const own = readPackage(root);
  const around = projectRoot(cwd);
  const pkg = around !== root ? readPackage(around) : null;
  const spec = pkg?.dependencies?.skiff ?? pkg?.devDependencies?.skiff;
  if (spec !== undefined) {
    if (!spec.startsWith("file:")) return spec;
    const p = spec.slice(5);
    const abs = isAbsolute(p) ? p : resolve(around, p);
    return "file:" + relative(target, abs);
  }
  if (!root.split("/").includes("node_modules")) return "file:" + relative(target, root);
  return "^" + (own?.version ?? "0.1.0");
}

function copyTemplate(from: string, to: string, name: string): string[] {
  const written: string[] = [];
  for (const entry of readdirSync(from).sort()) {
    const src = join(from, entry);
    // npm leaves .gitignore files out of packages: the template carries "gitignore".
    const dst = join(to, entry === "gitignore" ? ".gitignore" : entry);
    if (statSync(src).isDirectory()) {
      mkdirSync(dst, { recursive: true });
      written.push(...copyTemplate(src, dst, name));
    } else if (/\.(ts|md|json)$/.test(entry)) {
      writeFileSync(dst, readFileSync(src, "utf8").replaceAll("__NAME__", name));
      written.push(dst);
    } else {
      copyFileSync(src, dst);
      written.push(dst);
    }
  }
  return written;
}

export async function newCommand(argv: string[], io: IO): Promise<number> {
  const { values, positionals } = parseOptions("new", argv, specs);
  if (values.help || positionals.length !== 1) {
    const text = helpText("skiff new NAME [options]",
      "Makes a project in ./NAME: main.ts (a small HTTP service), a vitest test that boots it, tsconfigs, .gitignore, a README; then runs npm install.", specs);
    if (values.help) { io.out(text); return 0; }
    io.err(text);
    return 2;
  }
  const name = positionals[0];
  if (!NAME_RE.test(name)) {
    throw new UserError(`${name}: a project name is 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  const dir = resolve(io.cwd, name);
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new UserError(`${name}: already exists and is not an empty folder; choose another name`);
  }
  const root = skiffRoot();
  const own = readPackage(root);
  const dev = own?.devDependencies ?? {};
  const pkg = {
    name,
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: {
      test: "skiff test",
      start: "skiff run . --forward 8080:8080",
      typecheck: "tsc -p . && tsc -p test",
    },
    devDependencies: {
      skiff: skiffSpec(io.cwd, dir),
      vitest: dev.vitest ?? "*",
      typescript: dev.typescript ?? "*",
      "@types/node": dev["@types/node"] ?? "*",
    },
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  const files = copyTemplate(join(root, "cli", "templates", "new"), dir, name);
  io.out(`skiff new: ${name}/ with ${["package.json", ...files.map((f) => relative(dir, f))].join(", ")}`);
  if (values.install) {
    io.out(`skiff new: npm install in ${name}/ (skiff ${pkg.devDependencies.skiff})`);
    const r = await execa("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
      { cwd: dir, stdio: ["ignore", "inherit", "inherit"], reject: false });
    if (r.exitCode !== 0) throw new UserError(`npm install in ${name}/ failed (exit ${r.exitCode ?? r.signal}); fix the cause and run it there again`, 1);
  }
  io.out(["", `cd ${name}`, ...(values.install ? [] : ["npm install"]), "npm test                         # boots the app under QEMU and calls it",
    "npx skiff run . --forward 8080:8080   # then: curl localhost:8080/hello/you"].join("\n"));
  return 0;
}


