// cli/lib/options.ts — options declared as data with their help text (like
// asc's CLI); one parser for every subcommand. Every value is checked here,
// before a command does any work (a build, a boot). Messages do not repeat the
// command: cli/main.ts prefixes "skiff <command>: ".
import { UserError } from "./log.js";

export interface OptionSpec {
  /** size: a memory size in QEMU -m syntax (64M, 1G, 512 = MiB), checked
   *  when parsed and kept as the string given. */
  type: "string" | "boolean" | "number" | "list" | "size";
  help: string;
  default?: string | boolean | number;
  choices?: string[];
  alias?: string;
  metavar?: string;
}
export type OptionSpecs = Record<string, OptionSpec>;
export type Parsed = { values: Record<string, string | boolean | number | string[] | undefined>; positionals: string[]; passthrough: string[] };

export function parseOptions(cmd: string, argv: string[], specs: OptionSpecs): Parsed {
  const values: Parsed["values"] = {};
  const positionals: string[] = [];
  let passthrough: string[] = [];
  for (const [k, s] of Object.entries(specs)) if (s.default !== undefined) values[k] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") { passthrough = argv.slice(i + 1); break; }
    if (!a.startsWith("-") || a === "-") { positionals.push(a); continue; }
    let name = a.replace(/^--?/, "");
    let inline: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) { inline = name.slice(eq + 1); name = name.slice(0, eq); }
    const key = Object.keys(specs).find((k) => k === name || specs[k].alias === name);
    if (!key) throw new UserError(`unknown option ${a}; see skiff ${cmd} --help`);
    const s = specs[key];
    if (s.type === "boolean") {
      values[key] = inline === undefined ? true : !/^(0|false|no)$/i.test(inline);
      continue;
    }
    const v = inline ?? argv[++i];
    const flag = `--${key}`;
    if (v === undefined) throw new UserError(`${flag} needs a value (${s.metavar ?? s.type})`);
    if (s.choices && !s.choices.includes(v)) throw new UserError(`${flag} ${v}: choose one of ${s.choices.join(", ")}`);
    if (s.type === "size") {
      if (parseSize(v) === null) throw new UserError(`${flag} ${v}: expected a size such as 64M, 1536K or 1G (a bare number is MiB)`);
      values[key] = v;
    } else if (s.type === "number") {
      const n = v.trim() === "" ? NaN : Number(v);
      if (!Number.isFinite(n) || n < 0) throw new UserError(`${flag} ${v}: expected a non-negative number`);
      values[key] = n;
    } else if (s.type === "list") {
      values[key] = [...((values[key] as string[] | undefined) ?? []), v];
    } else values[key] = v;
  }
  return { values, positionals, passthrough };
}

/** Bytes in a size as `skiff run --memory` takes it (a whole number with a
 *  K, M or G suffix, powers of 1024; no suffix: MiB, as QEMU's -m); null
 *  unless positive. */
export function parseSize(text: string): number | null {
  const m = /^(\d+)([KMG])?$/i.exec(text.trim());
  if (!m) return null;
  const shift = { K: 10, M: 20, G: 30 }[(m[2] ?? "M").toUpperCase() as "K" | "M" | "G"];
  const bytes = Number(m[1]) * 2 ** shift;
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

export function helpText(usage: string, summary: string, specs: OptionSpecs): string {
  const lines = [`usage: ${usage}`, "", summary, "", "options:"];
  for (const [k, s] of Object.entries(specs)) {
    const flag = `--${k}${s.type === "boolean" ? "" : " " + (s.metavar ?? s.type.toUpperCase())}`;
    const def = s.default !== undefined && s.default !== false ? ` (default ${s.default})` : "";
    lines.push(`  ${flag.padEnd(28)} ${s.help}${s.choices ? ` [${s.choices.join("|")}]` : ""}${def}`);
  }
  return lines.join("\n");
}
