import { defineConfig } from "vitest/config";

// Unit tests compile kernel modules to Wasm and run them in Node; system tests
// boot real images under QEMU (TCG). Two workers keep CI inside 2 cores.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default"],
  },
});
