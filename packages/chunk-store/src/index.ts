// Public API of @armillaria/chunk-store. Each group below is owned by the module it names.
export type { ObjectStore, PutOptions, PutResult, ObjectInfo } from './object-store.js';
export type { ChunkStore, GetOptions, ChunkStat } from './chunk-store.js';
export type { Hasher, IncrementalHasher, CdcParams } from './hasher.js';
export { MemoryObjectStore } from './backends/memory-object-store.js';
export { ObjectChunkStore } from './object-chunk-store.js';
export type { ObjectChunkStoreOptions } from './object-chunk-store.js';
export { RemoteChunkStore } from './remote-chunk-store.js';
export type { RemoteChunkStoreOptions } from './remote-chunk-store.js';
export { buildApp } from './server/app.js';
export type { ChunkServiceDeps } from './server/app.js';
export { chunkRoutes } from './server/chunk-routes.js';
export type { ChunkRoutesOptions } from './server/chunk-routes.js';
export { BATCH_CONTENT_TYPE, encodeBatch, decodeBatch } from './batch-framing.js';
export { FsObjectStore } from './backends/fs-object-store.js';
export type { FsObjectStoreOptions } from './backends/fs-object-store.js';
