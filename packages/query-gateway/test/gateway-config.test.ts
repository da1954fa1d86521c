import { describe, expect, it } from 'vitest';
import { ArmillariaError } from '@armillaria/core';
import { TokenRegistry, isProtected, loadGatewayConfig } from '../src/index.js';

const codeAndMessage = (fn: () => unknown): { code: string; message: string } => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ArmillariaError) return { code: err.code, message: err.message };
    throw err;
  }
  return { code: 'no error', message: '' };
};

describe('gateway configuration and access rules', () => {
  it('reads tokens, protected branches, service URLs, limits and compaction from the environment', () => {
    const c = loadGatewayConfig({
      ARMILLARIA_GATEWAY_TOKENS: '[{"token":"abcdefgh12","repos":{"*":"read"}}]',
      ARMILLARIA_GATEWAY_PROTECTED_BRANCHES: '{"*":["main"]}',
      ARMILLARIA_CATALOG_URL: 'http://127.0.0.1:1', ARMILLARIA_CHUNKS_URL: 'http://127.0.0.1:2', ARMILLARIA_TXN_URL: 'http://127.0.0.1:3',
      ARMILLARIA_QUERY_TIMEOUT_MS: '5000', ARMILLARIA_QUERY_COMPACT_MIN_CHUNKS: '16', ARMILLARIA_QUERY_CACHE_MAX_BYTES: '1048576',
    });
    expect(c.tokens).toHaveLength(1);
    expect(c.protectedBranches).toEqual({ '*': ['main'] });
    expect(c.catalogUrl).toBe('http://127.0.0.1:1');
    expect(c.limits).toEqual({ timeoutMs: 5000 });
    expect(c.compactMinChunks).toBe(16);
    expect(c.cacheMaxBytes).toBe(1048576);
    expect(loadGatewayConfig({ ARMILLARIA_QUERY_COMPACT_MIN_CHUNKS: '0' }).compactMinChunks).toBe(0);
    expect(loadGatewayConfig({})).toEqual({ protectedBranches: {}, limits: {} });
  });

  it('bad values name the key and never echo a token', () => {
    const bad = codeAndMessage(() => loadGatewayConfig({ ARMILLARIA_GATEWAY_TOKENS: '[{"token": "super-secret-value"' }));
    expect(bad.code).toBe('INVALID_ARGUMENT');
    expect(bad.message).toContain('ARMILLARIA_GATEWAY_TOKENS');
    expect(bad.message).not.toContain('super-secret-value');
    expect(codeAndMessage(() => loadGatewayConfig({ ARMILLARIA_QUERY_MAX_ROWS: '-3' })).message).toContain('ARMILLARIA_QUERY_MAX_ROWS');
    expect(codeAndMessage(() => loadGatewayConfig({ ARMILLARIA_CATALOG_URL: 'http://x' })).message).toContain('go together');
    for (const v of ['0', '10GB', '-1', '99999999999999999999']) {
      expect(codeAndMessage(() => loadGatewayConfig({ ARMILLARIA_QUERY_CACHE_MAX_BYTES: v })).message).toContain('ARMILLARIA_QUERY_CACHE_MAX_BYTES');
    }
    expect(codeAndMessage(() => loadGatewayConfig({ ARMILLARIA_QUERY_COMPACT_MIN_CHUNKS: 'off' })).message).toContain('ARMILLARIA_QUERY_COMPACT_MIN_CHUNKS');
    expect(codeAndMessage(() => loadGatewayConfig({ ARMILLARIA_GATEWAY_PROTECTED_BRANCHES: '{"r":"main"}' })).code).toBe('INVALID_ARGUMENT');
    expect(codeAndMessage(() => new TokenRegistry({ tokens: [{ token: 'short', repos: {} }] })).code).toBe('INVALID_ARGUMENT');
    expect(codeAndMessage(() => new TokenRegistry({ tokens: [{ token: 'long-enough-token', repos: { r: 'owner' as never } }] })).code).toBe('INVALID_ARGUMENT');
  });

  it('tokens: roles per repo with a * fallback; bad headers are UNAUTHORIZED', () => {
    const reg = new TokenRegistry({ tokens: [{ token: 'token-one-1234', name: 'one', repos: { a: 'admin', '*': 'read' } }] });
    const p = reg.authenticate('Bearer token-one-1234');
    expect([p.name, p.roleFor('a'), p.roleFor('b')]).toEqual(['one', 'admin', 'read']);
    for (const h of [undefined, '', 'token-one-1234', 'Bearer', 'Bearer token-one-12345', 'Basic dG9rZW4=']) {
      expect(codeAndMessage(() => reg.authenticate(h)).code).toBe('UNAUTHORIZED');
    }
  });

  it('protected branch patterns: exact names and * within one segment, per repo or for all', () => {
    const pb = { r: ['release/*'], '*': ['main'] };
    expect(isProtected(pb, 'r', 'main')).toBe(true);
    expect(isProtected(pb, 'x', 'main')).toBe(true);
    expect(isProtected(pb, 'r', 'release/1.0')).toBe(true);
    expect(isProtected(pb, 'r', 'release/1/hotfix')).toBe(false);
    expect(isProtected(pb, 'x', 'release/1.0')).toBe(false);
    expect(isProtected(pb, 'r', 'mainline')).toBe(false);
  });
});
