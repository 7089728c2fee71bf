// kernel/lib/config — the runtime key-value configuration: the REST endpoint's
// /config/{key} edits it, the app reads it and registers a ConfigListener to be
// told of changes. Seeded from `config.<key>=<value>` command-line words on
// first use (with or without the REST endpoint).
import { KeyValueStore } from "./store";
import { Cmdline, bootInfo } from "../../platform/bootinfo";
import { println } from "../../core/console";

export {
  KeyValueStore, ConfigListener, storeErrorMessage,
  STORE_OK, STORE_CREATED, STORE_BAD_KEY, STORE_TOO_LARGE, STORE_FULL, STORE_NOT_FOUND,
} from "./store";

// @ts-ignore: decorator
@lazy
const store = new KeyValueStore(false);
let seeded = false;

/** The kernel's configuration store, seeded from `config.<key>=` words on
 *  first use. */
export function config(): KeyValueStore {
  if (!seeded) {
    seeded = true;
    seedFromCmdline(store, bootInfo().cmdline, "config.");
  }
  return store;
}

/** Copies every `prefix<key>=<value>` word of the command line into s. */
export function seedFromCmdline(s: KeyValueStore, cmdline: Cmdline, prefix: string): i32 {
  let n = 0;
  for (let i = 0; i < cmdline.args.length; i++) {
    const a = unchecked(cmdline.args[i]);
    const v = a.value;
    if (v === null || !a.key.startsWith(prefix) || a.key.length == prefix.length) continue;
    if (s.put(a.key.substring(prefix.length), v) >= 0) n++;
  }
  return n;
}

/** An app setting: /config first (seeded from `config.<key>=` words), then a
 *  bare `<key>=` boot word, then the default. */
export function setting(key: string, dflt: string): string {
  const c = config().get(key);
  if (c !== null) return c;
  const w = bootInfo().cmdline.get(key);
  return w !== null ? w : dflt;
}

/** An integer setting in [min, max]; a bad value is logged (naming who asked)
 *  and the default used, never an abort. */
export function intSetting(key: string, dflt: i32, min: i32, max: i32): i32 {
  const v = setting(key, dflt.toString());
  const n = I32.parseInt(v);
  if (isNaN(<f64>n) || n < min || n > max || n.toString() != v) {
    println("config: " + key + "=" + v + " is not a number in " + min.toString() + ".." + max.toString() +
      "; using " + dflt.toString());
    return dflt;
  }
  return n;
}
