import type { Hash } from '@armillaria/core';
import type { ChangeEvent } from '@armillaria/changelog';
import type { TreeSnapshot } from './catalog-port.js';

export const TXN_RECORD_VERSION = 1;

/** Durable states; ACTIVE transactions live only in their coordinator's memory. */
export type TxnRecordState = 'PREPARED' | 'COMMITTED' | 'DONE' | 'ABORTED';

/**
 * A change event as computed at PREPARE: everything but the commit hash and time, which exist only
 * once the catalog has written the commit. `fillEvents` completes them for publishing (and sets
 * `parent`, which for a commit inside a group-commit chain is only known then).
 */
export type EventDraft = Omit<ChangeEvent, 'commit' | 'time' | 'rows'>;

/**
 * The durable record of one transaction, written through a TxnLog at every state change:
 * PREPARED (before the ref moves: enough to finish or undo), COMMITTED (the ref moved), DONE (events
 * published) or ABORTED. Canonical JSON; `v` versions the shape.
 */
export interface TxnRecord {
  v: 1;
  id: string;
  repo: string;
  branch: string;
  state: TxnRecordState;
  /**
   * The branch head the transaction was validated against (updated at every attempt). The commit's
   * first parent is this head, or with `chain`, the commit of the member before it in the group.
   */
  base: Hash;
  baseGeneration: number;
  /**
   * Position (0-based) in a group-commit chain built on `base`: the commit lands at generation
   * `baseGeneration + 1 + chain`. Absent for the first member (and for records written before group commit).
   */
  chain?: number;
  /** The tree the commit will hold. */
  tree: TreeSnapshot;
  message: string;
  author: string;
  idempotencyKey?: string;
  events: EventDraft[];
  /** Set from COMMITTED on. */
  commit?: Hash;
  commitTime?: number;
  /** The commit's first parent, set from COMMITTED on (older records: the events' `parent` stands). */
  parent?: Hash;
  reason?: string;
  createdAt: number;
  updatedAt: number;
}

export function fillEvents(record: TxnRecord): ChangeEvent[] {
  if (!record.commit || record.commitTime === undefined) return [];
  const parent = record.parent;
  return record.events.map((e) => ({ ...e, ...(parent !== undefined ? { parent } : {}), commit: record.commit as Hash, time: record.commitTime as number }));
}

/** The states a record never leaves. */
export function isFinal(state: TxnRecordState): boolean {
  return state === 'DONE' || state === 'ABORTED';
}
