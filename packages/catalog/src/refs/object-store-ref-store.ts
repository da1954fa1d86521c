import {
  BackendUnavailableError, canonicalJsonBytes, InvalidArgumentError, isArmillariaError, isHash, mapLimit, parseJsonBytes, sleep,
  ErrorCode, type Hash,
} from '@armillaria/core';
import type { ObjectStore } from '@armillaria/chunk-store';
import { CorruptMetadataError, RefConflictError } from '../errors.js';
import { RefKeys } from './object-store-ref-keys.js';
import {
  checkCas, checkReflogQuery, reflogValueOf, clampTime, fromStoredEntry, MAX_REFLOG_TIME, toStoredEntry, warnReflogLost, type ReflogErrorHandler, type StoredReflogEntry,
} from './ref-args.js';
import { assertRefName, isFeasibleRefPrefix } from './ref-names.js';
import { checkExpireReflog, nothingExpired } from './reflog-expiry.js';
import type { ExpireReflogOptions, ExpireReflogResult, RefEntry, ReflogEntry, ReflogMeta, RefStore, ReflogValue } from './ref-store.js';

export interface ObjectStoreRefStoreOptions {
  /** Where refs and reflogs live; S3 (MinIO) in production, so a deployment can run on object storage alone. */
  objects: ObjectStore;
  /** Key prefix, '' or ending in '/' (default ''); keys are listed in object-store-ref-keys.ts. */
  prefix?: string;
  /** A ref moved but its reflog entry could not be written after retries (default: a process warning). */
  onReflogError?: ReflogErrorHandler;
}

/** The ref object: a value, or a tombstone (`value: null`) once deleted. */
interface RefBody {
  value: Hash | null;
  /** Bumped by every successful CAS, never reused, even across delete and re-create. */
  version: number;
  /** Time of the newest reflog entry, so entry times never go backwards. */
  time: number;
}

const READ_CONCURRENCY = 16;
// A conditional put can lose while the value still equals `expected` (another writer moved the ref away and
// back, or our head/get pair saw two versions); then we retry. Only such churn exhausts this.
const MAX_ATTEMPTS = 50;
const REFLOG_WRITE_ATTEMPTS = 3;
/** Reflog entry objects per deleteMany while expiring (S3's DeleteObjects limit). */
const EXPIRE_DELETE_BATCH = 1000;

/**
 * RefStore on any ObjectStore, using conditional writes as compare-and-swap: read the ref object's etag
 * (head) then its body (get), compare, then put with `ifMatch: etag`, or `ifNoneMatch: '*'` when there is
 * no object. A lost precondition re-reads and reports the actual value as RefConflictError.
 *
 * Delete writes a tombstone with `ifMatch` instead of deleting the object: S3 has no conditional delete
 * on every implementation (AWS only added If-Match on DeleteObject in 2024, MinIO and others differ), and
 * an unconditional delete could erase a concurrent winner's value. A later create then puts over the
 * tombstone with `ifMatch` too. Tombstones cost one small object per deleted ref.
 *
 * Each reflog entry is its own immutable object written after the ref moved (`ifNoneMatch: '*'`); if it
 * cannot be written after a few attempts the move stands and only that log line is lost, as after a
 * crash between the two puts. Reading is a listing of the ref's log prefix, newest first by key.
 *
 * expireReflog lists the reflog keys under the prefix (one ref's entries are contiguous and newest first)
 * and deletes the old ones in batches. A forgotten ref keeps its tombstone: deleting it would need a
 * conditional delete, and an unconditional one could erase a concurrent create.
 */
export class ObjectStoreRefStore implements RefStore {
  private readonly objects: ObjectStore;
  private readonly keys: RefKeys;
  private readonly onReflogError: ReflogErrorHandler | undefined;

  constructor(options: ObjectStoreRefStoreOptions) {
    if (!options?.objects) throw new InvalidArgumentError('ObjectStoreRefStore needs an ObjectStore');
    const prefix = options.prefix ?? '';
    if (typeof prefix !== 'string' || (prefix !== '' && !prefix.endsWith('/'))) throw new InvalidArgumentError("prefix must be '' or end with '/'");
    this.objects = options.objects;
    this.keys = new RefKeys(prefix);
    this.onReflogError = options.onReflogError;
  }

  async get(name: string): Promise<Hash | undefined> {
    assertRefName(name);
    const body = await this.readBody(name);
    return body?.value ?? undefined;
  }

  async compareAndSwap(name: string, expected: Hash | null, next: Hash | null, entry?: ReflogMeta): Promise<void> {
    const req = checkCas(name, expected, next, entry);
    const key = this.keys.ref(req.name);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.readRef(req.name);
      const actual = current?.body.value ?? null;
      if (actual !== req.expected) throw new RefConflictError(req.name, req.expected, actual);
      const body: RefBody = { value: req.next, version: (current?.body.version ?? 0) + 1, time: clampTime(req.time, current?.body.time) };
      try {
        await this.objects.put(key, canonicalJsonBytes(body), current ? { ifMatch: current.etag } : { ifNoneMatch: '*' });
      } catch (err) {
        if (isArmillariaError(err, ErrorCode.PreconditionFailed)) continue;
        throw err;
      }
      await this.appendReflog(req.name, body, toStoredEntry(req, body.time));
      return;
    }
    throw new BackendUnavailableError(`ref ${req.name} kept changing under compareAndSwap (${MAX_ATTEMPTS} attempts)`);
  }

  async list(prefix: string): Promise<RefEntry[]> {
    if (!isFeasibleRefPrefix(prefix)) return [];
    const names: string[] = [];
    for await (const info of this.objects.list(this.keys.refsListPrefix(prefix))) {
      const name = this.keys.nameOf(info.key);
      // `refs/a/b/` also lists `refs/a/b/~ref`, the ref `a/b` itself, which does not start with `a/b/`.
      if (name !== undefined && name.startsWith(prefix) && isValidName(name)) names.push(name);
    }
    const values = await mapLimit(names, READ_CONCURRENCY, async (n) => (await this.readBody(n))?.value ?? null);
    const out: RefEntry[] = [];
    names.forEach((n, i) => {
      const value = values[i];
      if (value) out.push({ name: n, value });
    });
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async reflog(name: string, opts?: { limit?: number; before?: number }): Promise<ReflogEntry[]> {
    const q = checkReflogQuery(name, opts);
    const before = Math.ceil(q.before); // times are integers: time < 4500.5 means time < 4501
    if (q.limit === 0 || before <= 0) return [];
    const listOpts = before <= MAX_REFLOG_TIME ? { startAfter: this.keys.logStartAfter(q.name, before) } : undefined;
    const keys: string[] = [];
    for await (const info of this.objects.list(this.keys.logDir(q.name), listOpts)) {
      keys.push(info.key);
      if (keys.length >= q.limit) break;
    }
    return mapLimit(keys, READ_CONCURRENCY, async (key) => {
      const e = fromStoredEntry(q.name, parseOrUndefined(await this.objects.get(key)));
      if (!e) throw new CorruptMetadataError('reflog entry', q.name, `${key} is not a reflog entry`);
      return e;
    });
  }

  /** See RefStore.reflogValue: the one entry reflog(limit 1) reads. */
  reflogValue(name: string, before: number): Promise<ReflogValue | undefined> {
    return reflogValueOf(this, name, before);
  }

  async expireReflog(before: number, opts?: ExpireReflogOptions): Promise<ExpireReflogResult> {
    const req = checkExpireReflog(before, opts);
    const result = nothingExpired();
    if (!req.feasible) return result;
    let doomed: string[] = [];
    const flush = async (): Promise<void> => {
      const keys = doomed;
      doomed = [];
      if (keys.length > 0) await this.objects.deleteMany(keys);
      result.entriesRemoved += keys.length;
    };
    const doom = async (key: string): Promise<void> => {
      doomed.push(key);
      if (doomed.length >= EXPIRE_DELETE_BATCH) await flush();
    };
    // Refs whose every entry is old: their newest entry goes too if the ref is deleted (forgotten). Their
    // values are read in batches, concurrently: on a commit index every ref is one.
    let undecided: { name: string; key: string }[] = [];
    const decide = async (): Promise<void> => {
      const batch = undecided;
      undecided = [];
      const deleted = await mapLimit(batch, READ_CONCURRENCY, async (u) => ((await this.readBody(u.name))?.value ?? null) === null);
      for (const [i, u] of batch.entries()) {
        if (!deleted[i]) continue;
        result.refsForgotten++;
        await doom(u.key);
      }
    };
    // The ref being listed (its entries come newest first): whether it has entries at or after `before`,
    // and whether its newest old entry went by.
    let current: { name: string; hasNewer: boolean; kept: boolean } | undefined;
    for await (const info of this.objects.list(this.keys.logsListPrefix(req.prefix))) {
      const entry = this.keys.logEntryOf(info.key);
      if (!entry || !entry.name.startsWith(req.prefix)) continue;
      if (current?.name !== entry.name) current = { name: entry.name, hasNewer: false, kept: false };
      if (entry.time >= req.before) {
        current.hasNewer = true;
        continue;
      }
      if (current.kept) {
        await doom(info.key);
        continue;
      }
      // The newest old entry: the position the ref had when the window opened. Kept, unless it is the
      // ref's newest entry of all and the ref is deleted (decided in batches, once values are read).
      current.kept = true;
      if (!current.hasNewer) {
        undecided.push({ name: entry.name, key: info.key });
        if (undecided.length >= EXPIRE_DELETE_BATCH) await decide();
      }
    }
    await decide();
    await flush();
    return result;
  }

  async close(): Promise<void> {}

  /** The ref object with the etag it was read under; head first, so a newer body only makes the put fail. */
  private async readRef(name: string): Promise<{ etag: string; body: RefBody } | undefined> {
    const key = this.keys.ref(name);
    for (;;) {
      const info = await this.objects.head(key);
      if (!info) return undefined;
      let bytes: Uint8Array;
      try {
        bytes = await this.objects.get(key);
      } catch (err) {
        if (isArmillariaError(err, ErrorCode.ObjectNotFound)) continue; // removed out of band between head and get
        throw err;
      }
      return { etag: info.etag, body: parseBody(name, bytes) };
    }
  }

  private async readBody(name: string): Promise<RefBody | undefined> {
    try {
      return parseBody(name, await this.objects.get(this.keys.ref(name)));
    } catch (err) {
      if (isArmillariaError(err, ErrorCode.ObjectNotFound)) return undefined;
      throw err;
    }
  }

  private async appendReflog(name: string, body: RefBody, entry: StoredReflogEntry): Promise<void> {
    const key = this.keys.logEntry(name, body.time, body.version);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.objects.put(key, canonicalJsonBytes(entry), { ifNoneMatch: '*' });
        return;
      } catch (err) {
        // Already there: an earlier attempt landed though its reply was lost.
        if (isArmillariaError(err, ErrorCode.PreconditionFailed)) return;
        if (attempt >= REFLOG_WRITE_ATTEMPTS) {
          (this.onReflogError ?? warnReflogLost)(err, { name, ...entry });
          return;
        }
        await sleep(50 * attempt);
      }
    }
  }
}

function isValidName(name: string): boolean {
  try {
    assertRefName(name);
    return true;
  } catch {
    return false;
  }
}

function parseOrUndefined(bytes: Uint8Array): unknown {
  try {
    return parseJsonBytes(bytes);
  } catch {
    return undefined;
  }
}

function parseBody(name: string, bytes: Uint8Array): RefBody {
  const b = parseOrUndefined(bytes) as Partial<RefBody> | undefined;
  if (!b || !(b.value === null || isHash(b.value)) || !Number.isSafeInteger(b.version) || typeof b.time !== 'number') {
    throw new CorruptMetadataError('ref', name, 'the ref object is not {value, version, time}');
  }
  return b as RefBody;
}
