// cli/lib/options.ts — options declared as data with their help text (like
// asc's CLI); one parser for every subcommand.
import { UserError } from "./log.js";

export interface OptionSpec {
  type: "string" | "boolean" | "number" | "list";
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
    if (!key) throw new UserError(`${cmd}: unknown option ${a}; see skiff ${cmd} --help`);
    const s = specs[key];
    if (s.type === "boolean") {
      values[key] = inline === undefined ? true : !/^(0|false|no)$/i.test(inline);
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new UserError(`${cmd}: ${a} needs a value (${s.metavar ?? s.type})`);
    if (s.choices && !s.choices.includes(v)) throw new UserError(`${cmd}: ${a} ${v}: choose one of ${s.choices.join(", ")}`);
    if (s.type === "number") {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new UserError(`${cmd}: ${a} ${v}: expected a non-negative number`);
      values[key] = n;
    } else if (s.type === "list") {
      values[key] = [...((values[key] as string[] | undefined) ?? []), v];
    } else values[key] = v;
  }
  return { values, positionals, passthrough };
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
