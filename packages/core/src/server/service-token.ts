import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ArmillariaError, ErrorCode, InvalidArgumentError } from '../errors.js';

/**
 * The shared secret between the gateway and the internal services. The gateway sends it
 * (`authorization: Bearer <token>`) through its remote clients; every internal service given it refuses
 * requests without it, so reaching a service port does not bypass the gateway's auth.
 */
export const SERVICE_TOKEN_ENV = 'ARMILLARIA_SERVICE_TOKEN';

/** Probes and scraping stay open: kubelet and Prometheus carry no token, and these reveal no data. */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** The configured service token, or undefined when unset or empty (no check: embedded and dev setups). */
export function serviceTokenFromEnv(env: Record<string, string | undefined> = process.env): string | undefined {
  const token = env[SERVICE_TOKEN_ENV];
  return token === undefined || token === '' ? undefined : token;
}

/**
 * Refuses every request except the open paths unless it carries the token: 401 UNAUTHORIZED, the same for a
 * missing and a wrong token. Compared in constant time over SHA-256 digests, so neither the content nor the
 * length of the token leaks through timing. The token never appears in a reply or a log line.
 */
export function requireServiceToken(app: FastifyInstance, token: string): void {
  if (typeof token !== 'string' || token.length === 0) throw new InvalidArgumentError(`${SERVICE_TOKEN_ENV} must be a non-empty string`);
  const expected = digest(token);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (OPEN_PATHS.has(request.url.split('?')[0] as string)) return;
    const given = bearerToken(request.headers.authorization);
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      throw new ArmillariaError(ErrorCode.Unauthorized, 'this service needs the service token (authorization: Bearer <ARMILLARIA_SERVICE_TOKEN>)');
    }
  });
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The token of an `authorization: Bearer <token>` header; undefined when absent or malformed (the gateway's API tokens use it too). */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
