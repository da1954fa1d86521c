import { createHash } from 'node:crypto';
import { ArmillariaError, ErrorCode, InvalidArgumentError } from '@armillaria/core';
import { bearerToken } from '@armillaria/core/server';

/** Ordered: each role can do everything the ones before it can. */
export const ROLES = ['read', 'write', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiToken {
  /** The secret presented as `Authorization: Bearer <token>`. Never logged or echoed. */
  token: string;
  /** Shown in logs and errors instead of the secret. */
  name?: string;
  /** Role per repo; `*` applies to every repo not listed. */
  repos: Record<string, Role>;
}

export interface AuthOptions {
  tokens: readonly ApiToken[];
}

/** Branch name patterns per repo (`*` for every repo); a pattern's `*` matches within one path segment. */
export type ProtectedBranches = Record<string, readonly string[]>;

export interface Principal {
  name: string;
  roleFor(repo: string): Role | undefined;
}

const rank = (r: Role): number => ROLES.indexOf(r);
export const atLeast = (have: Role | undefined, need: Role): boolean => have !== undefined && rank(have) >= rank(need);

const digest = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * Token lookup by SHA-256 digest, so the secrets are not kept as map keys and a lookup takes the same
 * time whichever byte differs. Validates the configuration up front (INVALID_ARGUMENT naming the entry).
 */
export class TokenRegistry {
  private readonly byDigest = new Map<string, Principal>();

  constructor(options: AuthOptions) {
    if (!options || !Array.isArray(options.tokens)) throw new InvalidArgumentError('auth.tokens must be a list');
    options.tokens.forEach((t, i) => {
      if (!t || typeof t.token !== 'string' || t.token.length < 8) throw new InvalidArgumentError(`auth.tokens[${i}].token must be a string of at least 8 characters`);
      if (!t.repos || typeof t.repos !== 'object') throw new InvalidArgumentError(`auth.tokens[${i}].repos must be an object {repo: role}`);
      for (const [repo, role] of Object.entries(t.repos)) {
        if (!ROLES.includes(role as Role)) throw new InvalidArgumentError(`auth.tokens[${i}].repos.${repo} must be one of ${ROLES.join(', ')}`);
      }
      const repos = { ...t.repos };
      const name = t.name ?? `token #${i + 1}`;
      this.byDigest.set(digest(t.token), { name, roleFor: (repo) => repos[repo] ?? repos['*'] });
    });
  }

  /** UNAUTHORIZED for a missing, malformed or unknown token. */
  authenticate(header: string | undefined): Principal {
    if (!header) throw new ArmillariaError(ErrorCode.Unauthorized, 'missing Authorization: Bearer <token> header');
    const token = bearerToken(header);
    if (token === undefined) throw new ArmillariaError(ErrorCode.Unauthorized, 'the Authorization header must be "Bearer <token>"');
    const p = this.byDigest.get(digest(token));
    if (!p) throw new ArmillariaError(ErrorCode.Unauthorized, 'unknown API token');
    return p;
  }
}

export function validateProtectedBranches(pb: unknown): ProtectedBranches {
  if (pb === undefined) return {};
  if (typeof pb !== 'object' || pb === null || Array.isArray(pb)) throw new InvalidArgumentError('protectedBranches must be an object {repo: [branch patterns]}');
  for (const [repo, list] of Object.entries(pb)) {
    if (!Array.isArray(list) || list.some((b) => typeof b !== 'string' || b === '')) throw new InvalidArgumentError(`protectedBranches.${repo} must be a list of branch names or patterns`);
  }
  return pb as ProtectedBranches;
}

function patternRegExp(pattern: string): RegExp {
  const body = pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*');
  return new RegExp(`^${body}$`);
}

export function isProtected(pb: ProtectedBranches, repo: string, branch: string): boolean {
  const patterns = [...(pb[repo] ?? []), ...(pb['*'] ?? [])];
  return patterns.some((p) => patternRegExp(p).test(branch));
}
