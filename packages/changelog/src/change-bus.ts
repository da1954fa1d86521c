import type { Hash } from '@armillaria/core';

/**
 * One event per (commit, table): what a commit did to one table. Row-level records are attached on
 * demand (`rows`), computed from chunk diffs so their cost follows the change, not the table.
 */
export interface ChangeEvent {
  /** Format version of this event shape. */
  v: 1;
  repo: string;
  branch: string;
  table: string;
  commit: Hash;
  /** First parent of `commit` (null for a repo's first commit). */
  parent: Hash | null;
  /** Transaction id, or the commit hash for single-operation commits; with `table`, the dedup key. */
  txnId: string;
  /** Position of this commit on the branch (the commit's generation number): orders events. */
  seq: number;
  time: number;
  /**
   * `created`, `dropped`, `written` (overwrite), `appended`, `upserted`, `deleted`, `altered`, `merged`,
   * `reverted`, `compacted` (same rows in new chunks: no row changes), `restored` (an earlier version made
   * the newest: its rows, row-level, against the version before).
   */
  op: string;
  versionBefore: number | null;
  versionAfter: number | null;
  chunksAdded: Hash[];
  chunksRemoved: Hash[];
  /**
   * Rows stored in the chunks added / removed: a physical count. For copy-on-write changes their
   * difference is the change in the table's row count; for a keyed table's merge-on-read delta it is
   * not (a rewritten delta chunk holds updated rows and delete tombstones too). Logical changes are in
   * `rows` (ask for row records) or in the table's row count at `versionAfter`.
   */
  rowsAdded: number;
  rowsRemoved: number;
  /**
   * Every table this commit changed, sorted (optional; set by `commitEvents`). A reader holding events
   * of all of them has the whole commit and needs no catalog read; without it, readers ask the catalog.
   */
  commitTables?: string[];
  /** Row-level records, only when asked for. */
  rows?: RowChange[];
}

/** A row-level change; `key` is the primary key, or `[rowNumber]` for unkeyed tables. */
export type RowChange =
  | { kind: 'insert'; key: unknown[]; after: Record<string, unknown> }
  | { kind: 'delete'; key: unknown[]; before: Record<string, unknown> }
  | { kind: 'update'; key: unknown[]; before: Record<string, unknown>; after: Record<string, unknown> };

/** A published event with its position in the bus (monotonic per bus). */
export interface DeliveredEvent {
  event: ChangeEvent;
  /** Bus sequence (JetStream stream sequence, or the embedded log's index). */
  busSeq: number;
}

/**
 * Where change events are published and read back live. Implementations: EmbeddedChangeBus
 * (in-process, backed by an append-only local log so a restart replays) and NatsChangeBus
 * (JetStream; one stream, subjects `armillaria.<repo>.<branch>.<table>` with tokens percent-encoded).
 * Every implementation passes `test/change-bus.contract.ts`.
 */
export interface ChangeBus {
  /**
   * Publishes events idempotently: the message id is `${txnId}:${table}`, so publishing the same
   * events again (a coordinator's recovery republishing after a crash) never delivers them twice.
   */
  publish(events: readonly ChangeEvent[]): Promise<void>;

  /**
   * Live events for `repo`/`branch` (optionally some tables), starting after bus sequence
   * `afterBusSeq` (0: from the first retained event; undefined: only new ones). The iterator applies
   * backpressure (bounded buffer) and ends when `signal` aborts or `return()` is called.
   */
  follow(filter: BusFilter, opts?: { afterBusSeq?: number; signal?: AbortSignal }): AsyncIterable<DeliveredEvent>;

  /** The last bus sequence (0 when empty): a subscription's hand-over point from replay to live. */
  lastSeq(): Promise<number>;

  /** Reachable? (readiness) Throws BackendUnavailableError. */
  ping(): Promise<void>;

  close(): Promise<void>;
}

export interface BusFilter {
  repo: string;
  branch: string;
  tables?: readonly string[];
}
