// index.ts — the "skiff" package entry for AssemblyScript (asc resolves a
// package import to <pkg>/index.ts): the kernel's public API.
export * from "./kernel/index";
