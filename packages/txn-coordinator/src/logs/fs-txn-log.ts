import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BackendUnavailableError, canonicalJson } from '@armillaria/core';
import type { TxnLog } from '../txn-log.js';
import { isFinal, type TxnRecord } from '../txn-record.js';
import { assertIdempotencyKey, assertTxnId } from './log-args.js';

export interface FsTxnLogOptions {
  /** Directory of the log (created if missing), e.g. `<dataDir>/txn`. */
  dir: string;
  /** fsync files and directories (default true). Off only for throwaway benchmarks. */
  fsync?: boolean;
}

/**
 * TxnLog on local files, safe for several processes sharing one directory:
 * - `records/<id>.json`: the last record, written to a temp file, fsync'd, renamed over (atomic), then
 *   the directory fsync'd, so a reader sees the old or the new record, never a torn one;
 * - `pending/<id>`: a marker that exists while the record may be PREPARED or COMMITTED. It is made
 *   durable before the first such record and removed after the final one, so `pending()` lists a
 *   directory instead of reading every record ever written;
 * - `keys/<sha256(key)>/<n>`: claims of an idempotency key; the highest `n` is the owner. A claim is
 *   created with link(2), which fails if the name exists, so two processes cannot both win claim `n`.
 */
export class FsTxnLog implements TxnLog {
  private readonly sync: boolean;
  private readonly markers = new Set<string>();
  private ready: Promise<void> | undefined;

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

  async put(record: TxnRecord): Promise<void> {
    assertTxnId(record.id);
    await this.init();
    return this.io(`put ${record.id}`, async () => {
      if (!isFinal(record.state) && !this.markers.has(record.id)) {
        await this.writeDurably(this.path('pending', record.id), '');
        this.markers.add(record.id);
      }
      await this.writeDurably(this.path('records', `${record.id}.json`), canonicalJson(record));
      if (isFinal(record.state)) {
        await unlink(this.path('pending', record.id)).catch(ignoreMissing);
        this.markers.delete(record.id);
      }
    });
  }

  async get(id: string): Promise<TxnRecord | undefined> {
    assertTxnId(id);
    await this.init();
    return this.io(`get ${id}`, () => this.read(id));
  }

  async pending(): Promise<TxnRecord[]> {
    await this.init();
    return this.io('pending', async () => {
      const out: TxnRecord[] = [];
      for (const id of await readdir(this.path('pending'))) {
        const record = await this.read(id);
        // No record yet: PREPARE is being written, or its process died first (nothing to finish).
        // The marker stays, since deleting it could race the first put.
        if (!record) continue;
        // A final record: its process died between the final put and the unlink.
        if (isFinal(record.state)) {
          await unlink(this.path('pending', id)).catch(ignoreMissing);
          continue;
        }
        out.push(record);
      }
      return out;
    });
  }

  async claimKey(key: string, txnId: string, supersede?: string): Promise<string> {
    assertIdempotencyKey(key);
    assertTxnId(txnId);
    await this.init();
    const dir = this.path('keys', createHash('sha256').update(key).digest('hex'));
    return this.io('claimKey', async () => {
      await mkdir(dir, { recursive: true });
      for (;;) {
        const { n, owner } = await this.currentClaim(dir);
        if (owner !== undefined && owner !== supersede) return owner;
        const tmp = this.path('tmp', `${randomBytes(8).toString('hex')}.claim`);
        await this.writeFileSynced(tmp, txnId);
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
    const dir = this.path('keys', createHash('sha256').update(key).digest('hex'));
    return this.io('keyOwner', async () => (await this.currentClaim(dir)).owner);
  }

  async ping(): Promise<void> {
    await this.init();
  }

  async close(): Promise<void> {}

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

  private async read(id: string): Promise<TxnRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.path('records', `${id}.json`), 'utf8')) as TxnRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** temp file + fsync + rename + fsync(dir): the name holds the old or the new bytes after any crash. */
  private async writeDurably(target: string, text: string): Promise<void> {
    const tmp = this.path('tmp', `${randomBytes(8).toString('hex')}.tmp`);
    await this.writeFileSynced(tmp, text);
    await rename(tmp, target);
    if (this.sync) await this.syncDir(join(target, '..'));
  }

  private async writeFileSynced(path: string, text: string): Promise<void> {
    const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
    try {
      await fh.writeFile(text);
      if (this.sync) await fh.sync();
    } finally {
      await fh.close();
    }
  }

  private async syncDir(dir: string): Promise<void> {
    const fh = await open(dir, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
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
