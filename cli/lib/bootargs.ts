// cli/lib/bootargs.ts — `skiff run --env NAME=VALUE` and `--config KEY=VALUE`
// as the command-line words the kernel seeds its stores from (`env.NAME=`,
// `config.KEY=`: kernel/lib/env, kernel/lib/config), with the stores' key rules
// checked here so a bad flag is refused before anything boots.
import { UserError } from "./log.js";

const MAX_KEY = 128;
const MAX_VALUE = 4096;

function split(flag: string, arg: string): [string, string] {
  const eq = arg.indexOf("=");
  if (eq <= 0) throw new UserError(`--${flag} ${arg}: expected NAME=VALUE`);
  return [arg.slice(0, eq), arg.slice(eq + 1)];
}

/** A value as one command-line word: quoted when it has spaces (the kernel's
 *  parser groups on double quotes and drops them, so a value cannot hold one). */
function word(flag: string, key: string, value: string): string {
  if (value.length > MAX_VALUE) throw new UserError(`--${flag} ${key}: the value is longer than ${MAX_VALUE} characters`);
  if (/["\x00-\x1f\x7f]/.test(value)) throw new UserError(`--${flag} ${key}: the value may not hold double quotes or control characters`);
  return /\s/.test(value) || value === "" ? `"${value}"` : value;
}

export function envWord(arg: string): string {
  const [name, value] = split("env", arg);
  // kernel/lib/config/store.ts validKey, env style: printable ASCII without "=".
  if (name.length > MAX_KEY || !/^[\x21-\x7e]+$/.test(name)) {
    throw new UserError(`--env ${arg}: a name is 1-${MAX_KEY} printable ASCII characters without spaces or "="`);
  }
  if (name.includes('"')) throw new UserError(`--env ${arg}: a name may not hold double quotes`);
  return `env.${name}=${word("env", name, value)}`;
}

export function configWord(arg: string): string {
  const [key, value] = split("config", arg);
  // kernel/lib/config/store.ts validKey: [A-Za-z0-9._-].
  if (key.length > MAX_KEY || !/^[A-Za-z0-9._-]+$/.test(key)) {
    throw new UserError(`--config ${arg}: a key is 1-${MAX_KEY} letters, digits, '.', '_' or '-'`);
  }
  return `config.${key}=${word("config", key, value)}`;
}

/** The words for every --env and --config flag, in order. */
export function settingsWords(envs: string[], configs: string[]): string[] {
  return [...envs.map(envWord), ...configs.map(configWord)];
}
