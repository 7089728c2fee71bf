// kernel/lib/env — the environment variables served at /env/ (OSv's API): the
// same store as kernel/lib/config, with POSIX-style names. Seeded from
// `env.<NAME>=<value>` command-line words on first use.
import { KeyValueStore, seedFromCmdline } from "../config";
import { bootInfo } from "../../platform/bootinfo";

// @ts-ignore: decorator
@lazy
const store = new KeyValueStore(true);
let seeded = false;

/** The environment, seeded from `env.<NAME>=` words on first use. */
export function env(): KeyValueStore {
  if (!seeded) {
    seeded = true;
    seedFromCmdline(store, bootInfo().cmdline, "env.");
  }
  return store;
}

export function getenv(name: string): string | null { return env().get(name); }
export function setenv(name: string, value: string): bool { return env().put(name, value) >= 0; }
export function unsetenv(name: string): bool { return env().delete(name) == 0; }
