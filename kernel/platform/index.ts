// kernel/platform/index.ts — the hardware boundary's public surface.
export * from "./host";
export * from "./exit";
