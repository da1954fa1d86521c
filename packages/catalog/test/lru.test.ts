import { describe, expect, it } from 'vitest';
import { Lru } from '../src/lru.js';

describe('Lru', () => {
  it('keeps a working set of up to its capacity whole, however it is read', () => {
    const lru = new Lru<number, string>(100);
    for (let i = 0; i < 100; i++) lru.set(i, `v${i}`);
    // 10,000 reads in a scattered order: nothing is evicted, nothing turns over.
    for (let k = 0; k < 10_000; k++) {
      const i = (k * 37) % 100;
      expect(lru.get(i)).toBe(`v${i}`);
    }
    expect(lru.size).toBe(100);
  });

  it('keeps the capacity most recently used entries when more are added, and at most twice as many', () => {
    const lru = new Lru<number, number>(10);
    for (let i = 0; i < 1_000; i++) {
      lru.set(i, i);
      expect(lru.size).toBeLessThanOrEqual(20);
      for (let j = Math.max(0, i - 9); j <= i; j++) expect(lru.get(j), `entry ${j} after ${i}`).toBe(j);
    }
    expect(lru.get(0)).toBeUndefined();
  });

  it('refuses a capacity below 1', () => {
    expect(() => new Lru(0)).toThrow(RangeError);
  });
});
