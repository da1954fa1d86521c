import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isArmillariaError } from '@armillaria/core';
import { servicesFromEnv, tempDir, uniqueName } from '../src/index.js';

describe('uniqueName', () => {
  it('gives distinct names that are valid S3 bucket names', () => {
    const names = Array.from({ length: 2000 }, () => uniqueName('bucket-test'));
    expect(new Set(names).size).toBe(names.length);
    for (const n of names.slice(0, 50)) {
      expect(n).toMatch(/^bucket-test-[a-z0-9-]+$/);
      expect(n.length).toBeLessThanOrEqual(63);
    }
    expect(uniqueName('a'.repeat(40)).length).toBeLessThanOrEqual(63);
  });

  it.each(['', 'Upper', '1abc', 'has_underscore', 'a'.repeat(41), 'a/b'])('rejects prefix %j with INVALID_ARGUMENT', (prefix) => {
    let caught: unknown;
    try {
      uniqueName(prefix);
    } catch (err) {
      caught = err;
    }
    expect(isArmillariaError(caught, 'INVALID_ARGUMENT')).toBe(true);
  });
});

describe('tempDir', () => {
  it('creates a fresh directory and removes it on cleanup (idempotently)', async () => {
    const a = tempDir('kit');
    const b = tempDir('kit');
    expect(a.path).not.toBe(b.path);
    writeFileSync(join(a.path, 'f.txt'), 'x');
    expect(existsSync(join(a.path, 'f.txt'))).toBe(true);
    await a.cleanup();
    await a.cleanup();
    expect(existsSync(a.path)).toBe(false);
    expect(existsSync(b.path)).toBe(true);
    await b.cleanup();
  });
});

describe('servicesFromEnv', () => {
  it('reads all, none and comma lists', () => {
    expect(servicesFromEnv(undefined)).toEqual(['s3', 'redis', 'nats']);
    expect(servicesFromEnv('all')).toEqual(['s3', 'redis', 'nats']);
    expect(servicesFromEnv('none')).toEqual([]);
    expect(servicesFromEnv(' redis, nats ')).toEqual(['redis', 'nats']);
  });
  it('rejects an unknown service with INVALID_ARGUMENT', () => {
    expect(() => servicesFromEnv('redis,postgres')).toThrow(/unknown service "postgres"/);
    try {
      servicesFromEnv('postgres');
    } catch (err) {
      expect(isArmillariaError(err, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
