import { readdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BackendUnavailableError, InvalidArgumentError, isArmillariaError, makeParents, type Hash } from '@armillaria/core';
import { CorruptMetadataError, RefConflictError } from '../errors.js';
import { isAlive, KeyedMutex, withFileLock, type FileLockOptions } from './fs-lock.js';
import { compactLog } from './fs-ref-compact.js';
import { RefIndex } from './fs-ref-index.js';
import { createLogFile, RefLogFile } from './fs-ref-log.js';
import { isHeader, isLogRecord, isSuperseded, LOG_FORMAT, LOG_VERSION, type LogRecord } from './fs-ref-log-format.js';
import { readLayout1 } from './fs-ref-migrate.js';
import { checkCas, checkReflogQuery, checkReflogValueQuery, clampTime, type CasRequest, type ReflogErrorHandler } from './ref-args.js';
import { assertRefName, isFeasibleRefPrefix } from './ref-names.js';
import { checkExpireReflog, nothingExpired } from './reflog-expiry.js';
import type { ExpireReflogOptions, ExpireReflogResult, RefEntry, ReflogEntry, ReflogMeta, RefStore, ReflogValue } from './ref-store.js';

export interface FsRefStoreOptions {
  /** Directory holding the refs; created on first write. */
  root: string;
  /** Lock tuning (see FileLockOptions). */
  lock?: FileLockOptions;
  /**
   * Kept for compatibility; never called: a ref's value and its reflog entry are one log record, written
   * together or not at all.
   */
  onReflogError?: ReflogErrorHandler;
}

const LOG_FILE = 'refs.log';
const LOCK_FILE = 'refs.lock';
/** The layout-1 tree (one directory per ref), migrated into the log on first open. */
const LAYOUT1_DIR = 'refs';
/** Most compare-and-swaps of one process written with one lock and one fdatasync. */
const MAX_BATCH = 256;

interface PendingCas {
  req: CasRequest;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * RefStore on a local filesystem, safe across processes sharing the directory on one machine.
 *
 * Everything lives in one append-only log, `<root>/refs.log` (format: fs-ref-log-format.ts): each
 * compare-and-swap is one checksummed record holding the ref's new value and its reflog entry, written
 * under the store's lock file (`refs.lock`, fs-lock.ts) into preallocated space and made durable by one
 * fdatasync before the call returns. Overwriting blocks that already exist needs no ext4 journal commit,
 * which is what makes a CAS cost one disk flush instead of several (new files, renames and directory
 * fsyncs each force a commit). Concurrent CASes of one process share one lock hold and one fdatasync.
 *
 * Each process keeps the log's state in memory (values, sorted names, and per ref the offsets, times and
 * values of its reflog entries) and before every call reads only the records appended since its last
 * read, so other processes' writes are visible to any call that starts after they returned. A crash
 * mid-append leaves a torn last record that fails its checksum: readers stop there and the next writer
 * overwrites it.
 *
 * A directory written by the layout-1 store (one `refs/<name>/~ref` + `~log` per ref) is migrated on
 * first open, under the lock: its refs and reflogs are copied into a new log written whole and renamed
 * into place; the old tree is left untouched and no longer read. Names are case-sensitive.
 *
 * expireReflog compacts: under the lock it writes a new log holding only the current values and the
 * reflog entries kept, and renames it over the old one (fs-ref-compact.ts). Other processes learn of it
 * from the superseded marker compaction appends to the old file first: on reading it they check whether
 * the log's name now points at another file and, if so, open it and rebuild their state from it. Writers
 * also check that under the lock before every append, so nothing is ever written to a replaced file.
 * There is no automatic compaction: without expiry every record is a live reflog entry, and how much
 * history to keep is a retention decision (GC's `retainHistoryMs`), not the store's.
 */
export class FsRefStore implements RefStore {
  private readonly root: string;
  private readonly logPath: string;
  private readonly lockPath: string;
  private readonly opening = new KeyedMutex();
  private log: RefLogFile | undefined;
  private index = new RefIndex();
  /** The last record read was a superseded marker: the log may have been replaced, check on every read. */
  private superseded = false;
  private readonly queue: PendingCas[] = [];
  private draining: Promise<void> | undefined;
  /** An expireReflog in progress (close waits for it: it uses the open file). */
  private compacting: Promise<unknown> | undefined;

  constructor(private readonly options: FsRefStoreOptions) {
    if (typeof options?.root !== 'string' || options.root === '') throw new InvalidArgumentError('FsRefStore needs a root directory');
    this.root = resolve(options.root);
    this.logPath = join(this.root, LOG_FILE);
    this.lockPath = join(this.root, LOCK_FILE);
  }

  async get(name: string): Promise<Hash | undefined> {
    assertRefName(name);
    return this.read(false, (index) => index.get(name));
  }

  async compareAndSwap(name: string, expected: Hash | null, next: Hash | null, entry?: ReflogMeta): Promise<void> {
    const req = checkCas(name, expected, next, entry);
    // A lock-free read that already differs is a valid answer: the CAS fails as of that read.
    const seen = (await this.read(true, (index) => index.get(req.name))) ?? null;
    if (seen !== req.expected) throw new RefConflictError(req.name, req.expected, seen);
    await new Promise<void>((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      this.drain();
    });
  }

  async list(prefix: string): Promise<RefEntry[]> {
    if (!isFeasibleRefPrefix(prefix)) return [];
    return (await this.read(false, (index) => index.list(prefix))) ?? [];
  }

  async reflog(name: string, opts?: { limit?: number; before?: number }): Promise<ReflogEntry[]> {
    const q = checkReflogQuery(name, opts);
    if (q.limit === 0) return [];
    const entries = await this.read(false, (index, log) => index.reflogOffsets(q.name, q.before, q.limit).map((at) => toEntry(q.name, log.readAt(at) as LogRecord)));
    return entries ?? [];
  }

  /** See RefStore.reflogValue: a binary search of the in-memory index, no read of the entry. */
  async reflogValue(name: string, before: number): Promise<ReflogValue | undefined> {
    const q = checkReflogValueQuery(name, before);
    return this.read(false, (index) => index.reflogValue(q.name, q.before));
  }

  /**
   * See RefStore.expireReflog. Compacts the log when anything is removed (one rewrite of the live records,
   * under the lock: CASes of every process wait for it); removing nothing writes nothing.
   */
  async expireReflog(before: number, opts?: ExpireReflogOptions): Promise<ExpireReflogResult> {
    const req = checkExpireReflog(before, opts);
    if (!req.feasible || !(await this.read(false, () => true))) return nothingExpired();
    while (this.compacting) await this.compacting.catch(() => undefined);
    const run = this.guard(() =>
      withFileLock(this.lockPath, this.options.lock ?? {}, async (brokeStale) => {
        if (brokeStale) await sweepDebris(this.root);
        const log = this.guardSync(() => this.refreshLocked());
        const plan = this.index.planExpiry(req.before, req.prefix);
        if (plan.entriesRemoved === 0 && plan.refsForgotten === 0) return nothingExpired();
        const end = log.endOffset;
        // Nothing may have been appended while the new file was written; only a writer that broke our
        // lock as stale (held past `staleMs`) could have, and its records would be lost by the rename.
        const unchanged = (): boolean => this.guardSync(() => (this.refresh(), this.log === log && log.endOffset === end));
        await compactLog(this.logPath, log, this.index, plan.keep, unchanged);
        // We hold the lock: the file now at the log's name is the one just renamed there.
        if (this.log === log) this.guardSync(() => this.switchLog());
        return { entriesRemoved: plan.entriesRemoved, refsForgotten: plan.refsForgotten };
      }),
    );
    this.compacting = run;
    try {
      return await run;
    } finally {
      if (this.compacting === run) this.compacting = undefined;
    }
  }

  /** Waits for this process's queued compare-and-swaps, then closes the log (a later call opens it again). */
  async close(): Promise<void> {
    while (this.draining || this.compacting) await (this.draining ?? this.compacting)?.catch(() => undefined);
    const log = this.log;
    if (!log) return;
    this.log = undefined;
    this.index = new RefIndex();
    this.superseded = false;
    log.close();
  }

  /**
   * Runs `fn` on the state read up to date (the log opened first if needed), synchronously, so the index
   * and the file its offsets point into are a pair nothing can switch in between. Undefined when there
   * is no log yet and `create` is false.
   */
  private async read<T>(create: boolean, fn: (index: RefIndex, log: RefLogFile) => T): Promise<T | undefined> {
    for (;;) {
      const log = this.log ?? (await this.guard(() => this.opening.run('open', () => this.openLog(create))));
      if (!log) return undefined;
      if (log !== this.log) continue; // closed while it was being opened: open again
      return this.guardSync(() => {
        this.refresh();
        return fn(this.index, this.log as RefLogFile);
      });
    }
  }

  private async openLog(create: boolean): Promise<RefLogFile | undefined> {
    if (this.log) return this.log;
    let log = RefLogFile.open(this.logPath);
    if (!log) {
      // Nothing to read yet: reads answer "empty" without creating anything, unless a layout-1 tree
      // must be migrated first.
      if (!create && (await readdir(join(this.root, LAYOUT1_DIR)).then(() => false, () => true))) return undefined;
      await makeParents(this.root);
      await withFileLock(this.lockPath, this.options.lock ?? {}, async (brokeStale) => {
        if (brokeStale) await sweepDebris(this.root);
        log = RefLogFile.open(this.logPath); // another process may have created it meanwhile
        if (log) return;
        await createLogFile(this.logPath, (await readLayout1(join(this.root, LAYOUT1_DIR))) ?? []);
        log = RefLogFile.open(this.logPath);
      });
      if (!log) throw new BackendUnavailableError(`ref log ${this.logPath} vanished after it was created`);
    }
    // Once per process: a writer killed between writing its lock's temp file and linking it leaves
    // that file without a lock anyone would break (and so sweep).
    await sweepDebris(this.root);
    this.log = log;
    this.index = new RefIndex();
    this.superseded = false;
    return log;
  }

  /**
   * Reads the records appended since the last read (synchronous: see RefLogFile), so the answer reflects
   * every compare-and-swap that returned before this call started, in any process. When the last record
   * is a superseded marker and the log's name now points at another file, continues in that file.
   */
  private refresh(): void {
    for (;;) {
      const log = this.log as RefLogFile;
      this.scan(log);
      if (!this.superseded || log.isCurrentAt(this.logPath)) return;
      this.switchLog();
    }
  }

  /**
   * refresh() for the lock holder, who is about to append or compact: also checks the log was not
   * replaced without its marker being read (one stat per lock hold), so nothing goes into an old file.
   */
  private refreshLocked(): RefLogFile {
    if (!this.log) throw new BackendUnavailableError(`FsRefStore at ${this.root} was closed during a write`);
    for (;;) {
      this.refresh();
      const log = this.log as RefLogFile;
      if (log.isCurrentAt(this.logPath)) return log;
      this.switchLog();
    }
  }

  /** Opens the file now at the log's name and rebuilds the state from it; the old file is closed. */
  private switchLog(): void {
    const next = RefLogFile.open(this.logPath);
    if (!next) throw new BackendUnavailableError(`ref log ${this.logPath} disappeared`);
    const old = this.log;
    this.log = next;
    this.index = new RefIndex();
    this.superseded = false;
    old?.close();
    this.scan(next);
  }

  private scan(log: RefLogFile): void {
    log.scan((payload, offset) => {
      if (offset === 0) {
        if (!isHeader(payload) || payload.format !== LOG_FORMAT || payload.version !== LOG_VERSION) {
          throw new CorruptMetadataError('ref log', this.logPath, `unknown header ${JSON.stringify(payload)} (this version reads ${LOG_FORMAT} version ${LOG_VERSION})`);
        }
        return;
      }
      if (isSuperseded(payload)) {
        this.superseded = true;
        return;
      }
      if (!isLogRecord(payload)) throw new CorruptMetadataError('ref log', this.logPath, `record at offset ${offset} is not a ref record`);
      // A record after a marker: the compaction that wrote it never renamed its file over this one.
      this.superseded = false;
      this.index.apply(payload, offset);
    });
    if (log.endOffset === 0) throw new CorruptMetadataError('ref log', this.logPath, 'no valid header record');
  }

  /**
   * Writes the queued compare-and-swaps in batches: one lock hold, one read of what other processes
   * appended, each request checked against the value left by the ones before it, one append + fdatasync.
   */
  private drain(): void {
    if (this.draining) return;
    this.draining = (async () => {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          await this.guard(() =>
            withFileLock(this.lockPath, this.options.lock ?? {}, async (brokeStale) => {
              if (brokeStale) await sweepDebris(this.root);
              await this.writeBatch(batch);
            }),
          );
        } catch (err) {
          for (const p of batch) p.reject(err); // no-op for the ones already settled
        }
      }
    })().finally(() => {
      this.draining = undefined;
      // A request queued after the loop saw an empty queue but before this ran would wait forever.
      if (this.queue.length > 0) this.drain();
    });
  }

  private async writeBatch(batch: PendingCas[]): Promise<void> {
    const log = this.guardSync(() => this.refreshLocked());
    const index = this.index;
    const values = new Map<string, Hash | null>();
    const times = new Map<string, number>();
    const records: LogRecord[] = [];
    const accepted: PendingCas[] = [];
    for (const p of batch) {
      const { req } = p;
      const actual = values.has(req.name) ? (values.get(req.name) as Hash | null) : (index.get(req.name) ?? null);
      if (actual !== req.expected) {
        p.reject(new RefConflictError(req.name, req.expected, actual));
        continue;
      }
      const time = clampTime(req.time, times.get(req.name) ?? index.lastTime(req.name));
      const r: LogRecord = { n: req.name, o: req.expected, v: req.next, t: time };
      if (req.message !== undefined) r.m = req.message;
      if (req.author !== undefined) r.a = req.author;
      records.push(r);
      accepted.push(p);
      values.set(req.name, req.next);
      times.set(req.name, time);
    }
    if (records.length === 0) return;
    const offsets = await log.append(records);
    // Still the same pair: only a lock holder switches files, and that is us.
    records.forEach((r, i) => index.apply(r, offsets[i] as number));
    for (const p of accepted) p.resolve();
  }

  /** File system failures become BACKEND_UNAVAILABLE (typed errors pass through). */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.typed(err);
    }
  }

  private guardSync<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.typed(err);
    }
  }

  private typed(err: unknown): unknown {
    if (isArmillariaError(err)) return err;
    return new BackendUnavailableError(`ref store at ${this.root}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

function toEntry(name: string, r: LogRecord): ReflogEntry {
  const e: ReflogEntry = { name, old: r.o, new: r.v, time: r.t };
  if (r.m !== undefined) e.message = r.m;
  if (r.a !== undefined) e.author = r.a;
  return e;
}

/**
 * After a crashed writer's lock was broken: removes what it may have left in the root (`refs.lock.<pid>.…`
 * lock contents, `refs.log.tmp-<pid>-…` half-written migrations) when that pid is no longer running.
 */
async function sweepDebris(root: string): Promise<void> {
  for (const entry of await readdir(root)) {
    const m = /^refs\.(?:lock\.|log\.tmp-)(\d+)[.-]/.exec(entry);
    if (m && !isAlive(Number(m[1]))) await unlink(join(root, entry)).catch(() => undefined);
  }
}
