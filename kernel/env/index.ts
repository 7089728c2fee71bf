// kernel/env — the environment variables served at /env/ (OSv's API): the
// same store as kernel/config, with POSIX-style names. Seeded at boot from
// `env.<NAME>=<value>` command-line words.
import { KeyValueStore } from "../config/store";

// @ts-ignore: decorator
@lazy
const store = new KeyValueStore(true);

export function env(): KeyValueStore { return store; }

export function getenv(name: string): string | null { return store.get(name); }
export function setenv(name: string, value: string): bool { return store.put(name, value) >= 0; }
export function unsetenv(name: string): bool { return store.delete(name) == 0; }
