import { assertHash, InvalidArgumentError, isHash, type Hash } from '@armillaria/core';
import { assertRefName } from './ref-names.js';
import type { ReflogEntry, ReflogMeta, ReflogValue, RefStore } from './ref-store.js';

/** Longest reflog message or author accepted, in UTF-16 code units. */
export const MAX_REFLOG_TEXT = 16 * 1024;
/** Latest reflog time accepted (ms, about year 33658): 15 digits, so keys can hold it zero-padded. */
export const MAX_REFLOG_TIME = 999_999_999_999_999;

/** The checked arguments of one compareAndSwap, shared by every RefStore implementation. */
export interface CasRequest {
  name: string;
  expected: Hash | null;
  next: Hash | null;
  /** Requested entry time; the store clamps it to the ref's previous entry time (see clampTime). */
  time: number;
  message?: string;
  author?: string;
}

/**
 * Validates compareAndSwap arguments before any I/O: the name (INVALID_NAME), both values
 * (INVALID_HASH unless null), the reflog metadata (INVALID_ARGUMENT). `null -> null` is rejected as
 * INVALID_ARGUMENT because it neither creates nor deletes anything.
 */
export function checkCas(name: unknown, expected: unknown, next: unknown, entry: ReflogMeta | undefined, now = Date.now()): CasRequest {
  assertRefName(name);
  if (expected !== null) assertHash(expected);
  if (next !== null) assertHash(next);
  if (expected === null && next === null) {
    throw new InvalidArgumentError(`compareAndSwap of ${name} from absent to absent does nothing`, { details: { ref: name } });
  }
  if (entry !== undefined && (entry === null || typeof entry !== 'object')) throw new InvalidArgumentError('reflog entry must be an object');
  const time = entry?.time ?? now;
  if (!Number.isSafeInteger(time) || time < 0 || time > MAX_REFLOG_TIME) {
    throw new InvalidArgumentError(`reflog time must be an integer of ms in [0, ${MAX_REFLOG_TIME}], got ${String(time)}`);
  }
  const req: CasRequest = { name, expected, next, time };
  const message = checkText('message', entry?.message);
  const author = checkText('author', entry?.author);
  if (message !== undefined) req.message = message;
  if (author !== undefined) req.author = author;
  return req;
}

function checkText(field: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidArgumentError(`reflog ${field} must be a string`);
  if (value.length > MAX_REFLOG_TEXT) throw new InvalidArgumentError(`reflog ${field} is longer than ${MAX_REFLOG_TEXT} characters`);
  return value;
}

export interface ReflogQuery {
  name: string;
  /** Entries with `time < before` only; Infinity when not given. */
  before: number;
  /** Infinity when not given. */
  limit: number;
}

/** Validates reflogValue arguments before any I/O: as reflog's, with `before` required. */
export function checkReflogValueQuery(name: unknown, before: unknown): { name: string; before: number } {
  assertRefName(name);
  if (typeof before !== 'number') throw new InvalidArgumentError(`reflog before must be a time in ms, got ${String(before)}`);
  return checkReflogQuery(name, { before });
}

/** RefStore.reflogValue for stores that read whole entries: the one entry reflog(limit 1) reads. */
export async function reflogValueOf(refs: Pick<RefStore, 'reflog'>, name: unknown, before: unknown): Promise<ReflogValue | undefined> {
  const q = checkReflogValueQuery(name, before);
  const [e] = await refs.reflog(q.name, { before: q.before, limit: 1 });
  return e && { value: e.new, time: e.time };
}

/** Validates reflog arguments before any I/O. */
export function checkReflogQuery(name: unknown, opts: { limit?: number; before?: number } | undefined): ReflogQuery {
  assertRefName(name);
  const limit = opts?.limit ?? Infinity;
  const before = opts?.before ?? Infinity;
  if (limit !== Infinity && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new InvalidArgumentError(`reflog limit must be a non-negative integer, got ${String(limit)}`);
  }
  if (before !== Infinity && (typeof before !== 'number' || !Number.isFinite(before))) {
    throw new InvalidArgumentError(`reflog before must be a time in ms, got ${String(before)}`);
  }
  return { name, before, limit };
}

/**
 * Reflog times never go backwards within one ref: a requested time earlier than the previous entry's
 * is raised to it. So newest-first by append order and by time agree on every backend, clock skew
 * between writers cannot reorder history, and "the value at time T" is a range lookup.
 */
export function clampTime(requested: number, previous: number | undefined): number {
  return previous !== undefined && previous > requested ? previous : requested;
}

/** The stored form of one reflog entry (the name is implied by where it is stored). */
export interface StoredReflogEntry {
  old: Hash | null;
  new: Hash | null;
  time: number;
  message?: string;
  author?: string;
}

export function toStoredEntry(req: CasRequest, time: number): StoredReflogEntry {
  const e: StoredReflogEntry = { old: req.expected, new: req.next, time };
  if (req.message !== undefined) e.message = req.message;
  if (req.author !== undefined) e.author = req.author;
  return e;
}

/** Rebuilds a public entry from a parsed stored one; undefined when the shape is wrong (a torn write). */
export function fromStoredEntry(name: string, raw: unknown): ReflogEntry | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  const isValue = (v: unknown): v is Hash | null => v === null || isHash(v);
  if (!isValue(r.old) || !isValue(r.new) || typeof r.time !== 'number') return undefined;
  const e: ReflogEntry = { name, old: r.old, new: r.new, time: r.time };
  if (typeof r.message === 'string') e.message = r.message;
  if (typeof r.author === 'string') e.author = r.author;
  return e;
}

/**
 * Called when a ref moved but its reflog entry could not be written (the CAS still succeeds: the move
 * happened, and failing it would make the caller retry a change that is already in place).
 */
export type ReflogErrorHandler = (err: unknown, entry: ReflogEntry) => void;

/** Default ReflogErrorHandler: a process warning, visible in any log without a logger dependency. */
export const warnReflogLost: ReflogErrorHandler = (err, entry) => {
  process.emitWarning(`reflog entry of ${entry.name} (${entry.old ?? 'absent'} -> ${entry.new ?? 'absent'}) was not written: ${(err as Error)?.message ?? String(err)}`, {
    code: 'ARMILLARIA_REFLOG_ENTRY_LOST',
  });
};
