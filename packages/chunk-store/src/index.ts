// Public API of @armillaria/chunk-store. Each group below is owned by the module it names.
export type { ObjectStore, PutOptions, PutResult, ObjectInfo } from './object-store.js';
export type { ChunkStore, GetOptions, ChunkStat } from './chunk-store.js';
export type { Hasher, IncrementalHasher, CdcParams } from './hasher.js';
export { MemoryObjectStore } from './backends/memory-object-store.js';
