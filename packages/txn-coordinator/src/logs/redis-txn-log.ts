import { Redis } from 'ioredis';
import { BackendUnavailableError, canonicalJson, isArmillariaError } from '@armillaria/core';
import type { PutRecordOptions, TxnLog } from '../txn-log.js';
import { isFinal, type TxnRecord } from '../txn-record.js';
import { assertIdempotencyKey, assertTxnId } from './log-args.js';

export interface RedisTxnLogOptions {
  /** `redis://host:port[/db]`; ignored when `redis` is given. */
  url?: string;
  /** A connection to use (not closed by `close()`). */
  redis?: Redis;
  /** Key prefix (default `armillaria:`). */
  prefix?: string;
}

/** Claim a key if free, or take it over from `supersede`; returns the owner. Atomic in Redis. */
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or (ARGV[2] ~= '' and cur == ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return cur`;

/**
 * TxnLog on Redis: `<prefix>txn:<id>` holds the record as JSON, the set `<prefix>txn:pending` the ids
 * of PREPARED/COMMITTED records (updated in the same MULTI as the record), `<prefix>txn-key:<key>` the
 * owner of an idempotency key (Lua compare-and-set). Durability is the server's: run it with AOF
 * (`appendfsync always` for the strongest guarantee).
 */
export class RedisTxnLog implements TxnLog {
  private readonly redis: Redis;
  private readonly owned: boolean;
  private readonly prefix: string;

  constructor(options: RedisTxnLogOptions) {
    this.prefix = options.prefix ?? 'armillaria:';
    if (options.redis) {
      this.redis = options.redis;
      this.owned = false;
    } else {
      if (!options.url) throw new BackendUnavailableError('RedisTxnLog needs a url or a connection');
      // Fail calls fast while Redis is down instead of queueing them forever.
      this.redis = new Redis(options.url, { maxRetriesPerRequest: 2, lazyConnect: true, retryStrategy: (n) => Math.min(n * 100, 1000) });
      this.redis.on('error', () => {});
      this.owned = true;
    }
  }

  async put(record: TxnRecord, _opts?: PutRecordOptions): Promise<void> {
    assertTxnId(record.id);
    await this.call('put', async () => {
      const tx = this.redis.multi().set(this.recordKey(record.id), canonicalJson(record));
      if (isFinal(record.state)) tx.srem(this.pendingKey(), record.id);
      else tx.sadd(this.pendingKey(), record.id);
      const results = await tx.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    });
  }

  async get(id: string): Promise<TxnRecord | undefined> {
    assertTxnId(id);
    const text = await this.call('get', () => this.redis.get(this.recordKey(id)));
    return text === null ? undefined : (JSON.parse(text) as TxnRecord);
  }

  async pending(): Promise<TxnRecord[]> {
    return this.call('pending', async () => {
      const ids = await this.redis.smembers(this.pendingKey());
      if (ids.length === 0) return [];
      const texts = await this.redis.mget(ids.map((id) => this.recordKey(id)));
      return texts.flatMap((t) => (t === null ? [] : [JSON.parse(t) as TxnRecord])).filter((r) => !isFinal(r.state));
    });
  }

  async claimKey(key: string, txnId: string, supersede?: string): Promise<string> {
    assertIdempotencyKey(key);
    assertTxnId(txnId);
    return this.call('claimKey', async () => String(await this.redis.eval(CLAIM, 1, this.keyKey(key), txnId, supersede ?? '')));
  }

  async keyOwner(key: string): Promise<string | undefined> {
    assertIdempotencyKey(key);
    return (await this.call('keyOwner', () => this.redis.get(this.keyKey(key)))) ?? undefined;
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.redis.ping());
  }

  async close(): Promise<void> {
    if (this.owned) this.redis.disconnect();
  }

  private recordKey(id: string): string {
    return `${this.prefix}txn:${id}`;
  }
  private pendingKey(): string {
    return `${this.prefix}txn:pending`;
  }
  private keyKey(key: string): string {
    return `${this.prefix}txn-key:${key}`;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      if (this.owned && this.redis.status === 'wait') await this.redis.connect();
      return await fn();
    } catch (err) {
      if (isArmillariaError(err)) throw err;
      throw new BackendUnavailableError(`redis txn log ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
