// skiff-embed.d.ts — types of the "skiff-embed" package that `skiff build`
// generates for each image (cli/lib/build.ts embedModule): where a site image
// packed with --embed sits in linear memory, 0/0 without one. For editors and
// tsc only (tsconfig.assembly.json); asc compiles the generated module.
export declare const EMBED_PTR: usize;
export declare const EMBED_LEN: i32;
