import { readFileSync } from 'node:fs';
import { ErrorCode, isArmillariaError } from '@armillaria/core';
import { describe, expect, it } from 'vitest';
import { type CdcParams, type Hasher, NativeHasher, WasmHasher, hasherInfo, loadHasher } from '../src/index.js';

const vectors = JSON.parse(readFileSync(new URL('./fixtures/blake3-test-vectors.json', import.meta.url), 'utf8')) as {
  cases: { input_len: number; hash: string }[];
};

/** ARMILLARIA_HASHER=wasm runs the fallback alone; otherwise the addon must load, so CI proves it was built. */
const forcedWasm = process.env.ARMILLARIA_HASHER === 'wasm';

const vectorInput = (len: number): Uint8Array => Uint8Array.from({ length: len }, (_, i) => i % 251);

/** Deterministic bytes (xorshift32), so every failure reproduces. */
function seededBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 24;
  }
  return out;
}

function expectCode(fn: () => unknown, code: ErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(isArmillariaError(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true);
}

async function expectRejectCode(p: () => Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await p().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isArmillariaError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
}

const PARAM_SETS: CdcParams[] = [
  { minSize: 1, avgSize: 1, maxSize: 1 },
  { minSize: 1, avgSize: 2, maxSize: 3 },
  { minSize: 64, avgSize: 256, maxSize: 1024 },
  { minSize: 2048, avgSize: 8192, maxSize: 65536 },
  { minSize: 3000, avgSize: 10_000, maxSize: 30_000 },
  { minSize: 16_384, avgSize: 65_536, maxSize: 262_144 },
  { minSize: 4096, avgSize: 4096, maxSize: 4096 },
];

describe('loading', () => {
  it(forcedWasm ? 'ARMILLARIA_HASHER=wasm selects the fallback' : 'the native addon loads (run with ARMILLARIA_HASHER=wasm to test only the fallback)', async () => {
    const info = hasherInfo();
    if (forcedWasm) {
      expect((await loadHasher()).kind).toBe('wasm');
      expect((await loadHasher({ prefer: 'native' })).kind).toBe('wasm');
      return;
    }
    expect(info.nativeError, `addon ${info.addonPath} failed to load; build it with npm run build:native`).toBeUndefined();
    expect(info.nativeAvailable).toBe(true);
    expect((await loadHasher()).kind).toBe('native');
    expect((await loadHasher({ prefer: 'wasm' })).kind).toBe('wasm');
  });

  it('rejects an unknown preference or ARMILLARIA_HASHER value with INVALID_ARGUMENT', async () => {
    await expectRejectCode(() => loadHasher({ prefer: 'gpu' as 'native' }), ErrorCode.InvalidArgument);
    const saved = process.env.ARMILLARIA_HASHER;
    process.env.ARMILLARIA_HASHER = 'gpu';
    try {
      await expectRejectCode(() => loadHasher(), ErrorCode.InvalidArgument);
      expect(hasherInfo().forced).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.ARMILLARIA_HASHER;
      else process.env.ARMILLARIA_HASHER = saved;
    }
  });
});

const implementations: [string, () => Promise<Hasher>][] = [['wasm', () => WasmHasher.load()]];
if (!forcedWasm) implementations.push(['native', async () => NativeHasher.load()]);

describe.each(implementations)('%s hasher', (_name, load) => {
  it('matches every official BLAKE3 test vector', async () => {
    const h = await load();
    for (const c of vectors.cases) expect(h.hash(vectorInput(c.input_len)), `input_len ${c.input_len}`).toBe(c.hash);
  });

  it('hashMany matches the official vectors', async () => {
    const h = await load();
    expect(await h.hashMany(vectors.cases.map((c) => vectorInput(c.input_len)))).toEqual(vectors.cases.map((c) => c.hash));
  });

  it('incremental hashing in odd-sized pieces matches the official vectors', async () => {
    const h = await load();
    const pieces = [1, 7, 63, 1000, 1023, 4097, 3];
    for (const c of vectors.cases) {
      const input = vectorInput(c.input_len);
      const inc = h.createIncremental();
      for (let off = 0, k = 0; off < input.length; k++) {
        const size = pieces[k % pieces.length]!;
        inc.update(input.subarray(off, off + size));
        off += size;
      }
      expect(inc.digest(), `input_len ${c.input_len}`).toBe(c.hash);
    }
  });

  it('hashMany of many buffers (views, empty, and large ones) equals per-buffer hash', async () => {
    const h = await load();
    const backing = seededBytes(8 << 20, 42);
    const sizes = [0, 1, 1023, 1024, 1025, 131_071, 131_072, 131_073, 1 << 20, 3 << 20];
    const buffers: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const size = sizes[i % sizes.length]! + (i % 3);
      const off = (i * 7919) % (backing.length - size);
      buffers.push(backing.subarray(off, off + size));
    }
    buffers.push(Buffer.from('a Node Buffer is a Uint8Array too'), Buffer.alloc(0));
    const many = await h.hashMany(buffers);
    expect(many).toHaveLength(buffers.length);
    expect(many).toEqual(buffers.map((b) => h.hash(b)));
    expect(await h.hashMany([])).toEqual([]);
  });

  it('an incremental hasher cannot be used after digest', async () => {
    const h = await load();
    const inc = h.createIncremental();
    inc.update(new Uint8Array([1, 2, 3]));
    inc.digest();
    expectCode(() => inc.update(new Uint8Array([4])), ErrorCode.InvalidArgument);
    expectCode(() => inc.digest(), ErrorCode.InvalidArgument);
  });

  it('rejects non-byte input with INVALID_ARGUMENT', async () => {
    const h = await load();
    expectCode(() => h.hash('abc' as unknown as Uint8Array), ErrorCode.InvalidArgument);
    expectCode(() => h.createIncremental().update(null as unknown as Uint8Array), ErrorCode.InvalidArgument);
    expectCode(() => h.cdcChunkLengths([1, 2] as unknown as Uint8Array, PARAM_SETS[2]!), ErrorCode.InvalidArgument);
    await expectRejectCode(() => h.hashMany([new Uint8Array(1), {} as Uint8Array]), ErrorCode.InvalidArgument);
    await expectRejectCode(() => h.hashMany('x' as unknown as Uint8Array[]), ErrorCode.InvalidArgument);
  });

  it('rejects invalid CDC params with INVALID_ARGUMENT', async () => {
    const h = await load();
    const data = seededBytes(10_000, 1);
    const bad: unknown[] = [
      { minSize: 0, avgSize: 8, maxSize: 16 },
      { minSize: 4, avgSize: 2, maxSize: 16 },
      { minSize: 4, avgSize: 32, maxSize: 16 },
      { minSize: -1, avgSize: 8, maxSize: 16 },
      { minSize: 1.5, avgSize: 8, maxSize: 16 },
      { minSize: 4, avgSize: Number.NaN, maxSize: 16 },
      { minSize: 4, avgSize: 8, maxSize: Number.POSITIVE_INFINITY },
      { minSize: 4, avgSize: 8, maxSize: 2 ** 31 },
      { minSize: '4', avgSize: 8, maxSize: 16 },
      { minSize: 4, avgSize: 8 },
      null,
    ];
    for (const p of bad) expectCode(() => h.cdcChunkLengths(data, p as CdcParams), ErrorCode.InvalidArgument);
  });

  it.each(PARAM_SETS)('CDC invariants hold for %o', async (params) => {
    const h = await load();
    const inputs = [seededBytes(1 << 20, 7), new Uint8Array(300_000), new Uint8Array(0), seededBytes(params.minSize, 3)];
    for (const data of inputs) {
      const lengths = h.cdcChunkLengths(data, params);
      expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
      // Collected, not asserted one by one: tiny params give a million chunks.
      const outOfBounds = lengths.filter((len, i) => len <= 0 || len > params.maxSize || (i < lengths.length - 1 && len < params.minSize));
      expect(outOfBounds).toEqual([]);
    }
  });

  it('CDC boundaries survive an insert far away: most chunks keep their bytes', async () => {
    const h = await load();
    const params = { minSize: 2048, avgSize: 8192, maxSize: 65_536 };
    const base = seededBytes(4 << 20, 99);
    const insertAt = 1 << 20;
    const edited = new Uint8Array(base.length + 100);
    edited.set(base.subarray(0, insertAt));
    edited.set(seededBytes(100, 5), insertAt);
    edited.set(base.subarray(insertAt), insertAt + 100);
    const chunkHashes = (data: Uint8Array): string[] => {
      const out: string[] = [];
      let off = 0;
      for (const len of h.cdcChunkLengths(data, params)) {
        out.push(h.hash(data.subarray(off, off + len)));
        off += len;
      }
      return out;
    };
    const before = chunkHashes(base);
    const after = new Set(chunkHashes(edited));
    const kept = before.filter((x) => after.has(x)).length;
    // Only the chunks around the insert change: a handful out of ~500.
    expect(before.length).toBeGreaterThan(300);
    expect(before.length - kept).toBeLessThanOrEqual(4);
    expect(before.length - kept).toBeGreaterThanOrEqual(1);
  });

  it('CDC chunks average near avgSize on random data', async () => {
    const h = await load();
    const data = seededBytes(8 << 20, 11);
    const lengths = h.cdcChunkLengths(data, { minSize: 2048, avgSize: 8192, maxSize: 65_536 });
    const mean = data.length / lengths.length;
    expect(mean).toBeGreaterThan(6000);
    expect(mean).toBeLessThan(14_000);
  });
});

describe.skipIf(forcedWasm)('native and wasm agree', () => {
  it('use the same gear table', async () => {
    expect(NativeHasher.load().gearTable()).toEqual((await WasmHasher.load()).gearTable());
  });

  it.each(PARAM_SETS)('give identical CDC boundaries for %o', async (params) => {
    const native = NativeHasher.load();
    const wasm = await WasmHasher.load();
    const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog\n'.repeat(20_000));
    for (const data of [seededBytes(2 << 20, 1234), seededBytes(777_777, 5678), text, new Uint8Array(100_000).fill(7)]) {
      expect(native.cdcChunkLengths(data, params)).toEqual(wasm.cdcChunkLengths(data, params));
    }
  });

  it('give identical hashes on seeded random buffers', async () => {
    const native = NativeHasher.load();
    const wasm = await WasmHasher.load();
    const buffers = [0, 1, 64, 1024, 1025, 65_537, 200_000, 2 << 20].map((n, i) => seededBytes(n, i + 1));
    expect(await native.hashMany(buffers)).toEqual(await wasm.hashMany(buffers));
  });
});

describe.skipIf(forcedWasm)('native thread pools', () => {
  it('hashManyWithThreads gives the same hashes for 1 and 2 threads and rayon’s global pool', async () => {
    const native = NativeHasher.load();
    const buffers = [seededBytes(5 << 20, 1), seededBytes(300_000, 2), seededBytes(10, 3)];
    const expected = buffers.map((b) => native.hash(b));
    expect(await native.hashManyWithThreads(buffers, 1)).toEqual(expected);
    expect(await native.hashManyWithThreads(buffers, 2)).toEqual(expected);
    expect(await native.hashManyWithThreads(buffers, undefined)).toEqual(expected);
  });

  it('hashMany runs off the main thread: the event loop turns while it works', async () => {
    const native = NativeHasher.load();
    const big = seededBytes(64 << 20, 9);
    const order: string[] = [];
    // Computed synchronously, the promise would settle (a microtask) before the next loop turn's
    // setImmediate; hashed on the libuv pool, 64 MiB takes many loop turns, so setImmediate comes first.
    const done = native.hashManyWithThreads([big], 1).then((h) => {
      order.push('hashed');
      return h;
    });
    setImmediate(() => order.push('event loop turned'));
    expect(await done).toEqual([native.hash(big)]);
    expect(order[0]).toBe('event loop turned');
  });

  it('rejects a bad thread count with INVALID_ARGUMENT', async () => {
    const native = NativeHasher.load();
    for (const t of [0, -1, 1.5, 100_000, Number.NaN]) {
      await expectRejectCode(() => native.hashManyWithThreads([new Uint8Array(1)], t), ErrorCode.InvalidArgument);
    }
  });
});
