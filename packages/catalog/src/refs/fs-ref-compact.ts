import { rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BackendUnavailableError, syncDir, type Hash } from '@armillaria/core';
import type { RefIndex } from './fs-ref-index.js';
import type { LogRecord, SupersededRecord } from './fs-ref-log-format.js';
import { writeTempLog, type RefLogFile } from './fs-ref-log.js';

/**
 * Replaces the ref log at `path` with one holding only `keep` (reflog records of `log`, by offset,
 * ascending) plus whatever value-only records the current values need. The caller holds the store lock
 * and has read `log` to its end, so `index` is the whole state and nobody appends meanwhile; `unchanged`
 * re-reads the log's tail just before the switch and must confirm that (else nothing is replaced).
 *
 * Crash safety: the new log is written whole to a temp file and fsync'd; then a superseded marker is
 * appended to the old log (fdatasync'd); then the temp file is renamed over the log and the directory
 * fsync'd. A process killed before the rename leaves the old log (perhaps ending in a marker, which a
 * later record voids) and a temp file the next lock breaker sweeps; after it, the complete new log.
 * The marker comes first so that a process reading the old file always learns it was replaced: had the
 * rename come first, a kill in between would leave readers on the old file for good.
 */
export async function compactLog(
  path: string, log: RefLogFile, index: RefIndex, keep: readonly number[], unchanged: () => boolean,
): Promise<void> {
  const tmp = await writeTempLog(path, liveRecords(log, index, keep));
  try {
    if (!unchanged()) throw new BackendUnavailableError(`ref log ${path} changed while it was being compacted (lock held past staleMs?); not replaced`);
    const marker: SupersededRecord = { superseded: Date.now() };
    await log.append([marker]);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(path));
}

/**
 * The kept records in log order, then a value-only record for every ref whose value they do not end
 * on: refs whose value came from a layout-1 migration's value-only record, and (defensively) any other
 * mismatch. Replaying the output therefore gives exactly `index`'s values and kept reflogs.
 */
function* liveRecords(log: RefLogFile, index: RefIndex, keep: readonly number[]): Generator<LogRecord> {
  const replayed = new Map<string, Hash | null>();
  for (const payload of log.readMany(keep)) {
    const r = payload as LogRecord;
    if (r.k === undefined) replayed.set(r.n, r.v);
    yield r;
  }
  for (const { name, value } of index.list('')) {
    if ((replayed.get(name) ?? null) !== value) yield { k: 'set', n: name, o: null, v: value, t: 0 };
  }
  for (const [name, value] of replayed) {
    if (value !== null && index.get(name) === undefined) yield { k: 'set', n: name, o: null, v: null, t: 0 };
  }
}
