import { InvalidArgumentError, assertHash, type Hash } from '@armillaria/core';
import type { AsOf, CatalogApi, Commit } from '@armillaria/catalog';
import type { ChangeBus, ChangeEvent } from './change-bus.js';
import { commitEvents } from './commit-events.js';
import { assertDurableName, type CursorStore } from './cursor-store.js';

/** Where a subscription starts; it delivers the changes made *after* that point. */
export type SubscribeFrom =
  | 'latest'
  | 'earliest'
  | { commit: string }
  | { time: AsOf }
  /** After the commit that made this version of `table` (default: the only table in `tables`). */
  | { version: number; table?: string }
  /** Right after one delivered event (a commit's events go out in table order): how a reconnecting client resumes. */
  | { afterEvent: { commit: string; table: string } };

export interface SubscribeOptions {
  repo: string;
  branch: string;
  /** Only these tables (default: all). */
  tables?: readonly string[];
  /** Default `latest`. Ignored when `durableName` has a saved cursor: the subscription resumes there. */
  from?: SubscribeFrom;
  /** Attach row-level records to each event. */
  rows?: boolean;
  /** Keep a cursor under this name (needs a CursorStore): a restarted subscriber resumes after its last event. */
  durableName?: string;
  /**
   * With `durableName`: save the cursor as events are taken (default true: an event counts as done
   * when the reader asks for the next one or returns). false: the reader saves it with
   * `Changelog.ack` once it has really processed an event (a server relaying events over a network
   * cannot know that; its remote client acks instead).
   */
  autoAck?: boolean;
  signal?: AbortSignal;
}

export interface ChangelogOptions {
  catalog: CatalogApi;
  bus: ChangeBus;
  /** Where durable subscriptions keep their cursors. */
  cursors?: CursorStore;
}

/** Position of a subscription: everything up to `commit` delivered, or up to `table` of it when `table` is set. */
interface Position {
  commit: Hash | null;
  seq: number;
  table: string | null;
}

/**
 * The changelog: turns commits into events, publishes them, and serves subscriptions that replay the
 * catalog's history and then follow the bus.
 *
 * A subscription notes the bus position first, then replays first-parent commits from its start to
 * the branch head (events computed from the catalog), then follows the bus after the noted position.
 * Any commit made after the replay's head is published after that position, so nothing falls in the
 * gap. The bus is only a wake-up: on an event for a commit newer than the last delivered one, the
 * subscription walks the first-parent chain back to its position and delivers every commit in between
 * from the catalog, in commit order. So events published late, out of order (concurrent writers),
 * twice (a republish past JetStream's duplicate window) or never (a publisher that crashed) cannot
 * cause a gap, a duplicate or a reordering. Each commit's events go out in table-name order; the
 * durable cursor records (commit, table), so a resumed subscriber continues inside a commit.
 *
 * Backpressure: everything is pulled. Replay computes one commit when the reader asks for it, and the
 * bus follower pulls bounded batches.
 */
export class Changelog {
  constructor(private readonly options: ChangelogOptions) {}

  get catalog(): CatalogApi {
    return this.options.catalog;
  }

  get bus(): ChangeBus {
    return this.options.bus;
  }

  /** Saves durable cursor `durableName` right after `event` (see `autoAck`). */
  async ack(durableName: string, event: Pick<ChangeEvent, 'repo' | 'branch' | 'commit' | 'table'>): Promise<void> {
    assertDurableName(durableName);
    const { cursors, catalog } = this.options;
    if (!cursors) throw new InvalidArgumentError('ack needs a cursor store (ChangelogOptions.cursors)', { details: { field: 'durableName' } });
    for (const f of ['repo', 'branch', 'commit', 'table'] as const) {
      if (typeof event?.[f] !== 'string' || !event[f]) throw new InvalidArgumentError(`ack: ${f} is required`, { details: { field: f } });
    }
    assertHash(event.commit);
    const c = await catalog.readCommit(event.repo, event.commit);
    await cursors.save(durableName, { repo: event.repo, branch: event.branch, commit: c.hash, seq: c.generation, table: event.table, savedAt: Date.now() });
  }

  /** Computes a commit's events and publishes them (idempotent: safe to call again after a crash). */
  async publishCommit(repo: string, branch: string, commit: Hash | Commit): Promise<ChangeEvent[]> {
    const events = await commitEvents(this.options.catalog, repo, branch, commit);
    if (events.length > 0) await this.options.bus.publish(events);
    return events;
  }

  /**
   * Replays then follows (see the class comment). Options are checked at once (INVALID_ARGUMENT);
   * catalog errors (REPO_NOT_FOUND, VERSION_NOT_FOUND…) surface on the first `next()`.
   */
  subscribe(opts: SubscribeOptions): AsyncIterable<ChangeEvent> {
    validate(opts, this.options.cursors !== undefined);
    const self = this;
    return (async function* () {
      yield* await self.open(opts);
    })();
  }

  /** Like `subscribe`, but resolves the start first, so every setup error is thrown here (servers use it before answering). */
  async open(opts: SubscribeOptions): Promise<AsyncIterable<ChangeEvent>> {
    validate(opts, this.options.cursors !== undefined);
    const { catalog, bus, cursors } = this.options;
    const saved = opts.durableName ? await cursors!.load(opts.durableName) : undefined;
    if (saved && (saved.repo !== opts.repo || saved.branch !== opts.branch)) {
      throw new InvalidArgumentError(`durable cursor ${opts.durableName} belongs to ${saved.repo}/${saved.branch}, not ${opts.repo}/${opts.branch}`, { details: { field: 'durableName' } });
    }
    // The hand-over point: noted before the head is read, so commits after the head come after it.
    const busSeq = await bus.lastSeq();
    const head = await catalog.resolve(opts.repo, opts.branch);
    const pos: Position = saved ? { commit: saved.commit, seq: saved.seq, table: saved.table } : await this.startOf(opts, head);
    return this.run(opts, busSeq, head, pos);
  }

  private async *run(opts: SubscribeOptions, busSeq: number, head: Commit, pos: Position): AsyncGenerator<ChangeEvent> {
    const { catalog, bus, cursors } = this.options;
    const { repo, branch, signal } = opts;
    const tables = opts.tables ? [...opts.tables] : undefined;
    let unacked: ChangeEvent | undefined;
    const ack = async (): Promise<void> => {
      if (!unacked || !opts.durableName || opts.autoAck === false) return;
      const e = unacked;
      unacked = undefined;
      await cursors!.save(opts.durableName, { repo, branch, commit: e.commit, seq: e.seq, table: e.table, savedAt: Date.now() });
    };
    const eventsOf = (c: Hash | Commit): Promise<ChangeEvent[]> =>
      commitEvents(catalog, repo, branch, c, { ...(opts.rows ? { rows: true } : {}), ...(tables ? { tables } : {}) });

    // Delivers every commit after `pos` up to `target` along first parents, oldest first.
    const self = this;
    async function* catchUp(target: Commit): AsyncGenerator<ChangeEvent> {
      if (pos.table !== null && pos.commit !== null) {
        // Resuming inside a commit: the rest of its tables.
        const rest = (await eventsOf(pos.commit)).filter((e) => e.table > (pos.table as string));
        for (const e of rest) {
          if (signal?.aborted) return;
          unacked = e;
          yield e;
          await ack();
          pos.table = e.table;
        }
        pos.table = null;
      }
      const chain = await self.chainAfter(repo, pos, target);
      // A bounded read-ahead: the next few commits' events are computed while the reader works.
      const window = opts.rows ? 2 : 8;
      const ahead = new Map<number, Promise<ChangeEvent[]>>();
      const fetchAt = (i: number): void => {
        const c = chain[i];
        if (c && !ahead.has(i)) {
          const p = eventsOf(c.hash);
          p.catch(() => undefined); // awaited below; never left unhandled if the reader stops first
          ahead.set(i, p);
        }
      };
      for (let i = 0; i < chain.length; i++) {
        const c = chain[i] as Pick<Commit, 'hash' | 'generation'>;
        for (let j = i; j < i + window; j++) fetchAt(j);
        const events = await (ahead.get(i) as Promise<ChangeEvent[]>);
        ahead.delete(i);
        for (const e of events) {
          if (signal?.aborted) return;
          unacked = e;
          yield e;
          await ack();
        }
        pos.commit = c.hash;
        pos.seq = c.generation;
      }
    }

    // Fast path: the next commit's events straight from the bus, once all of its (wanted) tables are in.
    let held: ChangeEvent[] = [];
    const wholeNext = (e: ChangeEvent): ChangeEvent[] | undefined => {
      if (opts.rows || !e.commitTables || pos.table !== null || e.parent !== pos.commit) return undefined;
      if (held[0]?.commit !== e.commit) held = [];
      if (!held.some((h) => h.table === e.table)) held.push(e);
      const want = tables ? e.commitTables.filter((t) => tables.includes(t)) : e.commitTables;
      if (!want.every((t) => held.some((h) => h.table === t))) return [];
      const whole = held.sort((a, b) => (a.table < b.table ? -1 : 1));
      held = [];
      return whole;
    };

    try {
      yield* catchUp(head);
      for await (const d of bus.follow({ repo, branch, ...(tables ? { tables } : {}) }, { afterBusSeq: busSeq, ...(signal ? { signal } : {}) })) {
        if (d.event.seq <= pos.seq && pos.table === null) continue;
        const whole = wholeNext(d.event);
        if (whole) {
          for (const e of whole) {
            unacked = e;
            yield e;
            await ack();
          }
          if (whole.length > 0) {
            pos.commit = d.event.commit;
            pos.seq = d.event.seq;
          }
        } else {
          held = [];
          yield* catchUp(await catalog.readCommit(repo, d.event.commit));
        }
        if (signal?.aborted) return;
      }
    } finally {
      // return() while an event was out: the reader took it, so it counts as delivered.
      await ack();
    }
  }

  /**
   * First-parent commits after `pos` up to and including `target`, oldest first. Only hash and
   * generation are kept (a long replay holds ~100 bytes per commit; the events are computed lazily).
   */
  private async chainAfter(repo: string, pos: Position, target: Commit): Promise<Array<Pick<Commit, 'hash' | 'generation'>>> {
    const chain: Array<Pick<Commit, 'hash' | 'generation'>> = [];
    let c: Commit | undefined = target;
    while (c && c.hash !== pos.commit && c.generation > pos.seq) {
      chain.push({ hash: c.hash, generation: c.generation });
      const p: Hash | undefined = c.parents[0];
      c = p === undefined || p === pos.commit ? undefined : await this.options.catalog.readCommit(repo, p);
    }
    return chain.reverse();
  }

  private async startOf(opts: SubscribeOptions, head: Commit): Promise<Position> {
    const { catalog } = this.options;
    const from = opts.from ?? 'latest';
    const at = (c: Commit): Position => ({ commit: c.hash, seq: c.generation, table: null });
    if (from === 'latest') return at(head);
    if (from === 'earliest') return { commit: null, seq: -1, table: null };
    if ('commit' in from) return at(await catalog.resolve(opts.repo, from.commit));
    if ('afterEvent' in from) {
      const c = await catalog.resolve(opts.repo, from.afterEvent.commit);
      return { commit: c.hash, seq: c.generation, table: from.afterEvent.table };
    }
    if ('time' in from) return at(await catalog.resolve(opts.repo, opts.branch, { asOf: from.time }));
    const table = from.table ?? (opts.tables?.length === 1 ? opts.tables[0] : undefined);
    if (!table) throw new InvalidArgumentError('from.version needs from.table (or exactly one table in tables)', { details: { field: 'from.table' } });
    const tv = await catalog.tableVersion(opts.repo, table, { ref: opts.branch, version: from.version });
    return at(await catalog.readCommit(opts.repo, tv.commit));
  }
}

function validate(opts: SubscribeOptions, hasCursors: boolean): void {
  const bad = (field: string, why: string): never => {
    throw new InvalidArgumentError(`subscribe: ${field} ${why}`, { details: { field } });
  };
  if (!opts || typeof opts !== 'object') bad('options', 'must be an object');
  if (typeof opts.repo !== 'string' || !opts.repo) bad('repo', 'is required');
  if (typeof opts.branch !== 'string' || !opts.branch) bad('branch', 'is required');
  if (opts.tables !== undefined && (!Array.isArray(opts.tables) || !opts.tables.every((t) => typeof t === 'string' && t))) bad('tables', 'must be a list of table names');
  if (opts.durableName !== undefined) {
    assertDurableName(opts.durableName);
    if (!hasCursors) bad('durableName', 'needs a cursor store (ChangelogOptions.cursors)');
  }
  const f = opts.from;
  if (f === undefined || f === 'latest' || f === 'earliest') return;
  if (!f || typeof f !== 'object') return bad('from', "must be 'latest', 'earliest', {commit}, {time} or {version}");
  if ('commit' in f) {
    if (typeof f.commit !== 'string' || !f.commit) bad('from.commit', 'must be a commit hash or ref');
  } else if ('time' in f) {
    if (!(typeof f.time === 'number' || typeof f.time === 'string' || f.time instanceof Date)) bad('from.time', 'must be a Date, ms or ISO string');
  } else if ('afterEvent' in f) {
    const a = f.afterEvent as { commit?: unknown; table?: unknown } | undefined;
    if (!a || typeof a.commit !== 'string' || !a.commit || typeof a.table !== 'string' || !a.table) bad('from.afterEvent', 'must be {commit, table}');
  } else if ('version' in f) {
    if (!Number.isInteger(f.version) || f.version < 1) bad('from.version', 'must be an integer >= 1');
  } else {
    bad('from', "must be 'latest', 'earliest', {commit}, {time} or {version}");
  }
}
