import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, errorFromBody, errorReplyBody, httpStatusByCode, ChunkCorruptError, ArmillariaError } from '../src/index.js';

describe('error codes', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  it.each(Object.values(ErrorCode))('%s is documented and has an HTTP status', (code) => {
    expect(readme).toContain(`\`${code}\``);
    expect(httpStatusByCode[code]).toBeGreaterThanOrEqual(400);
  });
  it('round-trips through a reply body to the same code and details', () => {
    const body = errorReplyBody(new ChunkCorruptError('a'.repeat(64), 'b'.repeat(64)));
    expect(body).toMatchObject({ statusCode: 500, code: 'CHUNK_CORRUPT', error: 'Internal Server Error' });
    const back = errorFromBody(JSON.parse(JSON.stringify(body)), 'x');
    expect(back).toBeInstanceOf(ArmillariaError);
    expect(back.code).toBe('CHUNK_CORRUPT');
    expect(back.details).toEqual({ hash: 'a'.repeat(64), actual: 'b'.repeat(64) });
  });
  it('hides the message of unexpected errors', () => {
    expect(errorReplyBody(new Error('secret=hunter2'))).toMatchObject({ statusCode: 500, code: 'INTERNAL', message: 'internal error' });
  });
});
