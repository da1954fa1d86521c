import { describe, expect, it } from 'vitest';
import { assertHash, chunkKey, hashFromChunkKey, isHash, ErrorCode, ArmillariaError, canonicalJson } from '../src/index.js';

const h = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262';

describe('hash names', () => {
  it('accepts only 64 lowercase hex characters', () => {
    expect(isHash(h)).toBe(true);
    for (const bad of ['', h.toUpperCase(), h.slice(1), `${h}0`, `../${h.slice(3)}`, 42, null, `${h.slice(0, 63)}g`]) {
      expect(isHash(bad)).toBe(false);
      expect(() => assertHash(bad)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidHash }));
    }
  });
  it('maps a hash to a two-level key and back', () => {
    expect(chunkKey(h)).toBe(`objects/af/13/${h}`);
    expect(hashFromChunkKey(chunkKey(h))).toBe(h);
    expect(hashFromChunkKey('objects/xx/13/nothash')).toBeUndefined();
    expect(() => chunkKey('../../etc/passwd')).toThrow(ArmillariaError);
  });
});

describe('canonical JSON', () => {
  it('sorts keys and drops undefined members so equal values give equal bytes', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: undefined, c: 'x' }] })).toBe('{"a":[1,{"c":"x"}],"b":1}');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(() => canonicalJson({ a: 1n })).toThrow(ArmillariaError);
  });
});
