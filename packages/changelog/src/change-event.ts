import { InvalidArgumentError, isHash } from '@armillaria/core';
import type { BusFilter, ChangeEvent } from './change-bus.js';

/** The dedup key of an event on every bus: one message per (transaction, table). */
export function messageId(event: Pick<ChangeEvent, 'txnId' | 'table'>): string {
  return `${event.txnId}:${event.table}`;
}

/** Rejects a malformed event before it reaches a log or a subject (INVALID_ARGUMENT naming the field). */
export function assertChangeEvent(value: unknown): asserts value is ChangeEvent {
  const bad = (field: string): never => {
    throw new InvalidArgumentError(`invalid change event: bad ${field}`, { details: { field } });
  };
  if (!value || typeof value !== 'object') bad('event');
  const e = value as Partial<ChangeEvent>;
  if (e.v !== 1) bad('v');
  for (const f of ['repo', 'branch', 'table', 'txnId', 'op'] as const) {
    if (typeof e[f] !== 'string' || (e[f] as string).length === 0) bad(f);
  }
  if (!isHash(e.commit)) bad('commit');
  if (e.parent !== null && !isHash(e.parent)) bad('parent');
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 0) bad('seq');
  if (typeof e.time !== 'number') bad('time');
  if (e.versionBefore !== null && typeof e.versionBefore !== 'number') bad('versionBefore');
  if (e.versionAfter !== null && typeof e.versionAfter !== 'number') bad('versionAfter');
  if (!Array.isArray(e.chunksAdded) || !e.chunksAdded.every(isHash)) bad('chunksAdded');
  if (!Array.isArray(e.chunksRemoved) || !e.chunksRemoved.every(isHash)) bad('chunksRemoved');
  if (typeof e.rowsAdded !== 'number' || typeof e.rowsRemoved !== 'number') bad('rowsAdded/rowsRemoved');
  if (e.rows !== undefined && !Array.isArray(e.rows)) bad('rows');
  if (e.commitTables !== undefined && (!Array.isArray(e.commitTables) || !e.commitTables.includes(e.table as string))) bad('commitTables');
}

export function assertBusFilter(filter: BusFilter): void {
  if (!filter || typeof filter.repo !== 'string' || !filter.repo) throw new InvalidArgumentError('filter.repo is required');
  if (typeof filter.branch !== 'string' || !filter.branch) throw new InvalidArgumentError('filter.branch is required');
  if (filter.tables !== undefined && (!Array.isArray(filter.tables) || !filter.tables.every((t) => typeof t === 'string' && t))) {
    throw new InvalidArgumentError('filter.tables must be a list of table names');
  }
}

export function matchesFilter(event: ChangeEvent, filter: BusFilter): boolean {
  return event.repo === filter.repo && event.branch === filter.branch && (!filter.tables || filter.tables.includes(event.table));
}
