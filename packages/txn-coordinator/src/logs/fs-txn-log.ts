import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BackendUnavailableError, canonicalJson, syncDir } from '@armillaria/core';
import type { PutRecordOptions, TxnLog } from '../txn-log.js';
import { isFinal, type TxnRecord, type TxnRecordState } from '../txn-record.js';
import { assertIdempotencyKey, assertTxnId } from './log-args.js';

export interface FsTxnLogOptions {
  /** Directory of the log (created if missing), e.g. `<dataDir>/txn`. */
  dir: string;
  /** fsync files and directories for durable puts (default true). Off only for throwaway benchmarks. */
  fsync?: boolean;
}

/** Later states win when several files of one transaction exist. */
const PENDING_STATES: readonly TxnRecordState[] = ['COMMITTED', 'PREPARED'];

/**
 * TxnLog on local files, safe for several processes sharing one directory:
 * - `pending/<id>.PREPARED`, `pending/<id>.COMMITTED`: the non-final records, one file per state, so a
 *   non-durable COMMITTED write can never damage the durable PREPARED one (a torn file is skipped and
 *   the earlier state stands). `pending()` lists this directory only;
 * - `records/<id>.json`: the final record (DONE, ABORTED); the pending files are removed after it;
 * - every write goes to a temp file, (fsync,) rename (atomic), (fsync of the directory), so a name
 *   holds a whole record or none;
 * - `keys/<sha256(key)>/<n>`: claims of an idempotency key; the highest `n` is the owner. A claim is
 *   created with link(2), which fails if the name exists, so two processes cannot both win claim `n`.
 */
export class FsTxnLog implements TxnLog {
  private readonly sync: boolean;
  private ready: Promise<void> | undefined;
  private readonly dirSyncs = new Map<string, { running: Promise<void> | undefined; next: Promise<void> | undefined }>();

  constructor(private readonly options: FsTxnLogOptions) {
    this.sync = options.fsync ?? true;
  }

  private path(...parts: string[]): string {
    return join(this.options.dir, ...parts);
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      for (const d of ['records', 'pending', 'keys', 'tmp']) await mkdir(this.path(d), { recursive: true });
    })();
    return this.ready;
  }

  async put(record: TxnRecord, opts: PutRecordOptions = {}): Promise<void> {
    assertTxnId(record.id);
    await this.init();
    const durable = this.sync && (opts.durable ?? true);
    return this.io(`put ${record.id}`, async () => {
      if (!isFinal(record.state)) {
        await this.writeAtomically(this.path('pending', `${record.id}.${record.state}`), canonicalJson(record), durable);
        return;
      }
      await this.writeAtomically(this.path('records', `${record.id}.json`), canonicalJson(record), durable);
      await Promise.all(PENDING_STATES.map((s) => unlink(this.path('pending', `${record.id}.${s}`)).catch(ignoreMissing)));
    });
  }

  async get(id: string): Promise<TxnRecord | undefined> {
    assertTxnId(id);
    await this.init();
    return this.io(`get ${id}`, async () => {
      return (await this.readRecord(this.path('records', `${id}.json`))) ?? (await this.readPending(id));
    });
  }

  async pending(): Promise<TxnRecord[]> {
    await this.init();
    return this.io('pending', async () => {
      const ids = new Set((await readdir(this.path('pending'))).map((name) => name.replace(/\.(PREPARED|COMMITTED)$/, '')));
      const out: TxnRecord[] = [];
      for (const id of ids) {
        if (await this.readRecord(this.path('records', `${id}.json`))) {
          // Final already: its process died between the final put and the unlinks.
          for (const s of PENDING_STATES) await unlink(this.path('pending', `${id}.${s}`)).catch(ignoreMissing);
          continue;
        }
        const record = await this.readPending(id);
        if (record) out.push(record);
      }
      return out;
    });
  }

  async claimKey(key: string, txnId: string, supersede?: string): Promise<string> {
    assertIdempotencyKey(key);
    assertTxnId(txnId);
    await this.init();
    const dir = this.keyDir(key);
    return this.io('claimKey', async () => {
      await mkdir(dir, { recursive: true });
      for (;;) {
        const { n, owner } = await this.currentClaim(dir);
        if (owner !== undefined && owner !== supersede) return owner;
        const tmp = this.path('tmp', `${randomBytes(8).toString('hex')}.claim`);
        await this.writeFile(tmp, txnId, this.sync);
        try {
          await link(tmp, join(dir, String(n + 1)));
          if (this.sync) await this.syncDir(dir);
          return txnId;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          // Another process claimed n + 1 first: look again.
        } finally {
          await unlink(tmp).catch(ignoreMissing);
        }
      }
    });
  }

  async keyOwner(key: string): Promise<string | undefined> {
    assertIdempotencyKey(key);
    await this.init();
    return this.io('keyOwner', async () => (await this.currentClaim(this.keyDir(key))).owner);
  }

  async ping(): Promise<void> {
    await this.init();
  }

  async close(): Promise<void> {}

  private keyDir(key: string): string {
    return this.path('keys', createHash('sha256').update(key).digest('hex'));
  }

  private async currentClaim(dir: string): Promise<{ n: number; owner: string | undefined }> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { n: -1, owner: undefined };
      throw err;
    }
    const n = Math.max(-1, ...names.filter((x) => /^\d+$/.test(x)).map(Number));
    if (n < 0) return { n, owner: undefined };
    return { n, owner: (await readFile(join(dir, String(n)), 'utf8')).trim() };
  }

  private async readPending(id: string): Promise<TxnRecord | undefined> {
    for (const s of PENDING_STATES) {
      const record = await this.readRecord(this.path('pending', `${id}.${s}`));
      if (record) return record;
    }
    return undefined;
  }

  /** A record file, or undefined when absent or unreadable (a non-durable write lost in a crash). */
  private async readRecord(path: string): Promise<TxnRecord | undefined> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return JSON.parse(text) as TxnRecord;
    } catch {
      return undefined;
    }
  }

  /** temp file (+ fsync) + rename (+ fsync(dir)): the name holds the old or the new bytes after any crash. */
  private async writeAtomically(target: string, text: string, durable: boolean): Promise<void> {
    const tmp = this.path('tmp', `${randomBytes(8).toString('hex')}.tmp`);
    await this.writeFile(tmp, text, durable);
    await rename(tmp, target);
    if (durable) await this.syncDir(join(target, '..'));
  }

  private async writeFile(path: string, text: string, durable: boolean): Promise<void> {
    const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
    try {
      await fh.writeFile(text);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /**
   * fsync of a directory, shared by concurrent callers (group commit puts many records at once): a
   * caller waits for a sync that STARTS after its call, so its rename is covered, and callers that
   * arrive while one runs share the single next one instead of each syncing the directory.
   */
  private syncDir(dir: string): Promise<void> {
    const state = this.dirSyncs.get(dir) ?? { running: undefined, next: undefined };
    this.dirSyncs.set(dir, state);
    if (!state.running) {
      state.running = syncDir(dir).finally(() => {
        state.running = undefined;
      });
      return state.running;
    }
    state.next ??= state.running.catch(() => {}).then(() => {
      state.next = undefined;
      return this.syncDir(dir);
    });
    return state.next;
  }

  private async io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
        throw new BackendUnavailableError(`txn log ${what} in ${this.options.dir} failed: ${code}`, { cause: err });
      }
      throw err;
    }
  }
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
