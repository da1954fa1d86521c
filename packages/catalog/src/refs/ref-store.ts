import type { Hash } from '@armillaria/core';

/**
 * Named pointers to commits with compare-and-swap: branches, tags and internal refs.
 * Ref names are slash-separated paths such as `repos/<repo>/branches/<branch>` or
 * `repos/<repo>/tags/<tag>`: at most 255 characters, each segment matches /^[A-Za-z0-9._-]+$/, no empty
 * segment (so no leading, trailing or double `/`), no `.` segment and no `..` anywhere. Anything else is
 * rejected with InvalidNameError (INVALID_NAME) before touching storage (`assertRefName`, ref-names.ts).
 * A ref and refs below it may coexist (`a/b` and `a/b/c`).
 *
 * Values are commit hashes; a value that is not a hash is rejected with InvalidHashError (INVALID_HASH).
 * Other bad arguments (reflog metadata, `limit`, `before`) are InvalidArgumentError (INVALID_ARGUMENT).
 * A backend that cannot be reached (or a lock that cannot be taken in time) is BackendUnavailableError.
 *
 * Implementations: FsRefStore (local files: atomic rename + lock file, safe across processes),
 * RedisRefStore (ioredis, Lua CAS), ObjectStoreRefStore (S3 conditional writes: If-Match / If-None-Match).
 * Every implementation passes `test/ref-store.contract.ts`.
 */
export interface RefStore {
  /** The commit a ref points to, or undefined if it does not exist. */
  get(name: string): Promise<Hash | undefined>;

  /**
   * Atomically moves `name` from `expected` to `next`:
   * `expected: null` means "create; must not exist", `next: null` means "delete".
   * Throws RefConflictError (REF_CONFLICT, details {ref, expected, actual}) when the current value is
   * not `expected`. On success appends one entry to the ref's reflog (same atomic step where the
   * backend allows it; otherwise right after, and a crash between the two loses only the log line).
   * Of several concurrent calls from the same `expected`, exactly one succeeds. `null -> null` is
   * INVALID_ARGUMENT (it neither creates nor deletes anything).
   */
  compareAndSwap(name: string, expected: Hash | null, next: Hash | null, entry?: ReflogMeta): Promise<void>;

  /**
   * Every existing ref whose name starts with `prefix` (a plain string prefix: `a/b` matches `a/b`, `a/b-x`,
   * `a/b/c` and `a/bc`), sorted by name in code-unit order. A prefix no valid name can start with gives [].
   */
  list(prefix: string): Promise<RefEntry[]>;

  /**
   * The reflog of one ref, newest first: every value it had, kept after the ref is deleted (for
   * recovery within the retention period). `before` (ms since epoch) keeps only entries with
   * `time < before`; `limit` caps the count. Entry times never go backwards within one ref (a requested
   * time earlier than the previous entry's is raised to it), so newest first by time and by append agree.
   * A ref that never existed has an empty reflog.
   */
  reflog(name: string, opts?: { limit?: number; before?: number }): Promise<ReflogEntry[]>;

  /**
   * The newest reflog entry of `name` with `time < before`, reduced to the value it gave the ref (null
   * when it deleted the ref) and its time: what `reflog(name, { before, limit: 1 })` answers, without
   * the message and author. Undefined when there is no such entry. This is `ref@{time}`'s lookup;
   * FsRefStore answers it from memory (its reflog index keeps each entry's value), the others read
   * the entry. Arguments are checked as reflog's: INVALID_NAME, and INVALID_ARGUMENT for a `before`
   * that is not a number, NaN or -Infinity (Infinity: no bound, the newest entry).
   */
  reflogValue(name: string, before: number): Promise<ReflogValue | undefined>;

  /**
   * Retention for reflogs (GC calls it per repo with the start of the repo's history window). For every
   * ref whose name starts with `opts.prefix` (default '': all refs), existing or deleted, removes the
   * reflog entries with `time < before` except the newest of them, so `reflog(name, {before, limit: 1})`
   * (what `ref@{before}` reads) still answers the position the ref had when the window opened, exactly
   * the entry GC's retention (maintenance/retention.ts) keeps as a root. A deleted ref whose every entry
   * is older than `before` is forgotten: its whole reflog goes. Entries with `time >= before` and every
   * ref's current value are untouched; a second call with the same arguments removes nothing.
   *
   * Atomic per ref where the backend allows (fs: the whole store, redis: one script per ref); on object
   * storage entries are deleted one by one, so a crash part way leaves a subset that still holds each
   * ref's newest entry before `before`, and the next call finishes. Concurrent compareAndSwaps are safe:
   * they add entries newer than anything removed (unless they ask for an older time, which is clamped
   * to the ref's previous entry anyway).
   *
   * `before` must be a finite number (ms since epoch) and `prefix` a string: INVALID_ARGUMENT otherwise;
   * a prefix no valid name can start with removes nothing.
   */
  expireReflog(before: number, opts?: ExpireReflogOptions): Promise<ExpireReflogResult>;

  close(): Promise<void>;
}

export interface ExpireReflogOptions {
  /** Only refs whose names start with this plain string prefix, e.g. `repos/<repo>/` (default '': all). */
  prefix?: string;
}

export interface ExpireReflogResult {
  /** Reflog entries removed, including those of forgotten refs. */
  entriesRemoved: number;
  /** Deleted refs whose whole reflog was older than `before` and is now gone. */
  refsForgotten: number;
}

export interface RefEntry {
  name: string;
  value: Hash;
}

export interface ReflogMeta {
  message?: string;
  author?: string;
  /** ms since epoch (integer); defaults to now; raised to the previous entry's time if earlier. */
  time?: number;
}

/** One reflog entry's value and time (see RefStore.reflogValue). */
export interface ReflogValue {
  /** null when the entry deleted the ref. */
  value: Hash | null;
  time: number;
}

export interface ReflogEntry {
  name: string;
  /** null when the ref was created by this entry. */
  old: Hash | null;
  /** null when the ref was deleted by this entry. */
  new: Hash | null;
  time: number;
  message?: string;
  author?: string;
}
