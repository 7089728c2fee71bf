// kernel/lib/config/store.ts — a small ordered key-value store with change
// listeners: the runtime configuration that the REST endpoint edits and the
// app reads (kernel/lib/config), and the environment (kernel/lib/env). Keys and
// values are checked and bounded, since they arrive from the network.

/** Told after a key changes; value is null when the key was deleted. */
export abstract class ConfigListener {
  abstract changed(key: string, value: string | null): void;
}

export const STORE_OK: i32 = 0;
export const STORE_CREATED: i32 = 1;
export const STORE_BAD_KEY: i32 = -1;
export const STORE_TOO_LARGE: i32 = -2;
export const STORE_FULL: i32 = -3;
export const STORE_NOT_FOUND: i32 = -4;

export class KeyValueStore {
  private keys: string[] = [];
  private values: string[] = [];
  private listeners: ConfigListener[] = [];
  maxKeyLength: i32 = 128;
  maxValueLength: i32 = 4096;
  maxEntries: i32 = 256;
  /** Incremented on every change: readers can cheaply tell if anything moved. */
  generation: u64 = 0;

  /** keyChars: "config" allows [A-Za-z0-9._-]; "env" allows anything but "=" and NUL. */
  constructor(public envStyle: bool = false) {}

  validKey(key: string): bool {
    const n = key.length;
    if (n == 0 || n > this.maxKeyLength) return false;
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i);
      if (this.envStyle) {
        // POSIX: names are anything without "="; we also keep them printable ASCII.
        if (c == 0x3d || c <= 0x20 || c >= 0x7f) return false;
      } else {
        const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
          c == 0x2e || c == 0x5f || c == 0x2d;
        if (!ok) return false;
      }
    }
    return true;
  }

  private indexOf(key: string): i32 {
    for (let i = 0; i < this.keys.length; i++) if (unchecked(this.keys[i]) == key) return i;
    return -1;
  }

  get size(): i32 { return this.keys.length; }
  keyAt(i: i32): string { return this.keys[i]; }
  valueAt(i: i32): string { return this.values[i]; }

  has(key: string): bool { return this.indexOf(key) >= 0; }

  get(key: string): string | null {
    const i = this.indexOf(key);
    return i < 0 ? null : unchecked(this.values[i]);
  }

  /** Sets key; STORE_CREATED or STORE_OK, or a negative STORE_* error. */
  put(key: string, value: string): i32 {
    if (!this.validKey(key)) return STORE_BAD_KEY;
    if (value.length > this.maxValueLength) return STORE_TOO_LARGE;
    const i = this.indexOf(key);
    let r = STORE_OK;
    if (i >= 0) {
      if (unchecked(this.values[i]) == value) return STORE_OK;   // no change, no notification
      unchecked(this.values[i] = value);
    } else {
      if (this.keys.length >= this.maxEntries) return STORE_FULL;
      this.keys.push(key);
      this.values.push(value);
      r = STORE_CREATED;
    }
    this.generation++;
    this.notify(key, value);
    return r;
  }

  /** Removes key: STORE_OK or STORE_NOT_FOUND. */
  delete(key: string): i32 {
    const i = this.indexOf(key);
    if (i < 0) return STORE_NOT_FOUND;
    this.keys.splice(i, 1);
    this.values.splice(i, 1);
    this.generation++;
    this.notify(key, null);
    return STORE_OK;
  }

  addListener(l: ConfigListener): void {
    if (!this.listeners.includes(l)) this.listeners.push(l);
  }

  removeListener(l: ConfigListener): void {
    const i = this.listeners.indexOf(l);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  private notify(key: string, value: string | null): void {
    // A copy: a listener may add or remove listeners while being told.
    const ls = this.listeners.slice(0);
    for (let i = 0; i < ls.length; i++) unchecked(ls[i]).changed(key, value);
  }
}

export function storeErrorMessage(code: i32): string {
  switch (code) {
    case STORE_BAD_KEY: return "invalid key";
    case STORE_TOO_LARGE: return "value too large";
    case STORE_FULL: return "store is full";
    case STORE_NOT_FOUND: return "no such key";
    default: return "ok";
  }
}
