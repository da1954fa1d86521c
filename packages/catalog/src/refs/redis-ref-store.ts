import { Redis } from 'ioredis';
import { ArmillariaError, BackendUnavailableError, ErrorCode, InvalidArgumentError, isHash, type Hash } from '@armillaria/core';
import { CorruptMetadataError, RefConflictError } from '../errors.js';
import { CAS_SCRIPT, CAS_SCRIPT_SHA, SEQ_DIGITS } from './redis-cas-script.js';
import { EXPIRE_SCRIPT, EXPIRE_SCRIPT_SHA } from './redis-expire-script.js';
import { checkCas, checkReflogQuery, reflogValueOf, fromStoredEntry } from './ref-args.js';
import { assertRefName, isFeasibleRefPrefix } from './ref-names.js';
import { checkExpireReflog, nothingExpired } from './reflog-expiry.js';
import type { ExpireReflogOptions, ExpireReflogResult, RefEntry, ReflogEntry, ReflogMeta, RefStore, ReflogValue } from './ref-store.js';

export type RedisRefStoreOptions = {
  /**
   * Prepended to every key (default `armillaria:refs:`). For Redis Cluster use a hash tag such as
   * `{armillaria-refs}:` so all keys of the store share one slot, as the CAS script requires.
   */
  keyPrefix?: string;
} & (
  | { /** `redis://[user:pass@]host:port[/db]` or `rediss://…`; the store owns and closes this connection. */ url: string }
  | { /** A connection the caller owns: `close()` leaves it open. */ redis: Redis }
);

const MGET_BATCH = 500;
/** SCAN page size (a hint to Redis) when expiry looks for reflog keys. */
const SCAN_COUNT = 1000;
// Server replies that mean "not now" rather than "wrong": mapped to BACKEND_UNAVAILABLE like a lost connection.
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|BUSY|TRYAGAIN|NOREPLICAS)\b/;

/**
 * RefStore on Redis. Keys: `<p>ref:<name>` the value, `<p>names` a sorted set of existing names (so
 * list is a ZRANGEBYLEX range, never KEYS/SCAN), `<p>log:<name>` the reflog as a sorted set scored by
 * time (so reflog is a ZREVRANGEBYSCORE range with LIMIT) and `<p>seq:<name>` its sequence counter.
 * compareAndSwap is one Lua script (see redis-cas-script.ts): the value, the index and the reflog
 * change together or not at all. Connection failures surface as BackendUnavailableError.
 *
 * expireReflog finds reflogs with SCAN over `<p>log:<prefix>*` (deleted refs are in no index, and expiry
 * is maintenance, not a request path), then runs one Lua script per ref (redis-expire-script.ts). On
 * Redis Cluster SCAN covers one node: the hash-tag prefix above keeps every key of the store on one.
 */
export class RedisRefStore implements RefStore {
  private readonly redis: Redis;
  private readonly owned: boolean;
  private readonly prefix: string;
  private lastConnectionError: Error | undefined;

  constructor(options: RedisRefStoreOptions) {
    this.prefix = options.keyPrefix ?? 'armillaria:refs:';
    if (typeof this.prefix !== 'string') throw new InvalidArgumentError('keyPrefix must be a string');
    if ('redis' in options && options.redis) {
      this.redis = options.redis;
      this.owned = false;
    } else {
      const url = (options as { url?: unknown }).url;
      if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) throw new InvalidArgumentError('RedisRefStore needs a redis:// or rediss:// url');
      this.redis = new Redis(url, {
        lazyConnect: true,
        // Fail a command after a couple of reconnect attempts instead of queueing it forever.
        maxRetriesPerRequest: 2,
        connectTimeout: 5_000,
        retryStrategy: (times) => Math.min(times * 100, 2_000),
      });
      this.owned = true;
      // Without a listener ioredis prints every reconnect failure; keep the last one for error messages.
      this.redis.on('error', (err: Error) => {
        this.lastConnectionError = err;
      });
    }
  }

  async get(name: string): Promise<Hash | undefined> {
    assertRefName(name);
    const value = await this.call(() => this.redis.get(this.valueKey(name)));
    return value === null ? undefined : checkValue(name, value);
  }

  async compareAndSwap(name: string, expected: Hash | null, next: Hash | null, entry?: ReflogMeta): Promise<void> {
    const req = checkCas(name, expected, next, entry);
    const stored: Record<string, unknown> = { old: req.expected, new: req.next };
    if (req.message !== undefined) stored.message = req.message;
    if (req.author !== undefined) stored.author = req.author;
    const keys = [this.valueKey(req.name), this.namesKey(), this.logKey(req.name), this.seqKey(req.name)];
    const args = [req.name, req.expected ?? '', req.next ?? '', String(req.time), JSON.stringify(stored)];
    const [ok, actual] = (await this.call(() => this.evalCas(keys, args))) as [number, string];
    if (ok !== 1) throw new RefConflictError(req.name, req.expected, actual === '' ? null : checkValue(req.name, actual));
  }

  async list(prefix: string): Promise<RefEntry[]> {
    if (!isFeasibleRefPrefix(prefix)) return [];
    const names =
      prefix === ''
        ? await this.call(() => this.redis.zrangebylex(this.namesKey(), '-', '+'))
        : await this.call(() => this.redis.zrangebylex(this.namesKey(), `[${prefix}`, `[${prefix}\xff`));
    const out: RefEntry[] = [];
    for (let i = 0; i < names.length; i += MGET_BATCH) {
      const batch = names.slice(i, i + MGET_BATCH);
      const values = await this.call(() => this.redis.mget(batch.map((n) => this.valueKey(n))));
      // A ref deleted between the two reads is simply absent from the answer.
      batch.forEach((n, j) => {
        const v = values[j];
        if (v !== null && v !== undefined) out.push({ name: n, value: checkValue(n, v) });
      });
    }
    return out;
  }

  async reflog(name: string, opts?: { limit?: number; before?: number }): Promise<ReflogEntry[]> {
    const q = checkReflogQuery(name, opts);
    if (q.limit === 0) return [];
    const max = q.before === Infinity ? '+inf' : `(${q.before}`;
    const key = this.logKey(q.name);
    const raw =
      q.limit === Infinity
        ? await this.call(() => this.redis.zrevrangebyscore(key, max, '-inf', 'WITHSCORES'))
        : await this.call(() => this.redis.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', 0, q.limit));
    const out: ReflogEntry[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const member = raw[i] as string;
      let parsed: unknown;
      try {
        parsed = { ...JSON.parse(member.slice(SEQ_DIGITS)), time: Number(raw[i + 1]) };
      } catch {
        parsed = undefined;
      }
      const e = fromStoredEntry(q.name, parsed);
      if (!e) throw new CorruptMetadataError('reflog entry', q.name, `unreadable member in ${key}`);
      out.push(e);
    }
    return out;
  }

  /** See RefStore.reflogValue: the one entry reflog(limit 1) reads. */
  reflogValue(name: string, before: number): Promise<ReflogValue | undefined> {
    return reflogValueOf(this, name, before);
  }

  async expireReflog(before: number, opts?: ExpireReflogOptions): Promise<ExpireReflogResult> {
    const req = checkExpireReflog(before, opts);
    const result = nothingExpired();
    if (!req.feasible) return result;
    const logPrefix = `${this.prefix}log:`;
    const pattern = `${escapeGlob(logPrefix + req.prefix)}*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.call(() => this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT));
      cursor = next;
      // SCAN may return a key twice; the script is idempotent, so a repeat removes nothing.
      const replies = await Promise.all(
        keys.map((key) => {
          const name = key.slice(logPrefix.length);
          return this.call(() => this.evalScript(EXPIRE_SCRIPT, EXPIRE_SCRIPT_SHA, [this.valueKey(name), key, this.seqKey(name)], [String(req.before)]));
        }),
      );
      for (const reply of replies as [number, number][]) {
        result.entriesRemoved += reply[0];
        result.refsForgotten += reply[1];
      }
    } while (cursor !== '0');
    return result;
  }

  async close(): Promise<void> {
    if (!this.owned || this.redis.status === 'end') return;
    if (this.redis.status === 'wait') {
      this.redis.disconnect(); // never connected (lazyConnect): nothing to flush
      return;
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private valueKey(name: string): string {
    return `${this.prefix}ref:${name}`;
  }
  private namesKey(): string {
    return `${this.prefix}names`;
  }
  private logKey(name: string): string {
    return `${this.prefix}log:${name}`;
  }
  private seqKey(name: string): string {
    return `${this.prefix}seq:${name}`;
  }

  private evalCas(keys: string[], args: string[]): Promise<unknown> {
    return this.evalScript(CAS_SCRIPT, CAS_SCRIPT_SHA, keys, args);
  }

  /** EVALSHA, falling back to EVAL the first time the server has not cached the script. */
  private async evalScript(script: string, sha: string, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.redis.eval(script, keys.length, ...keys, ...args);
    }
  }

  /** Runs one Redis call, turning connection trouble into BACKEND_UNAVAILABLE and other failures into typed errors. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ArmillariaError) throw err;
      const e = err as Error;
      const isReply = e?.name === 'ReplyError';
      if (!isReply || TRANSIENT_REPLY.test(e.message)) {
        const cause = this.lastConnectionError ?? e;
        throw new BackendUnavailableError(`redis is unavailable: ${e?.message ?? String(err)}${cause !== e ? ` (${cause.message})` : ''}`, { cause: err });
      }
      throw new ArmillariaError(ErrorCode.Internal, `redis refused a ref operation: ${e.message}`, { cause: err });
    }
  }
}

/** `s` as a literal in a SCAN MATCH pattern (a key prefix may hold glob characters; ref names cannot). */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function checkValue(name: string, value: string): Hash {
  if (!isHash(value)) throw new CorruptMetadataError('ref', name, 'stored value is not a hash');
  return value;
}
