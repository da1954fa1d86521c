import type { DuckDBConnection, DuckDBInstance, DuckDBPreparedStatement } from '@duckdb/node-api';
import { ident } from './views.js';

/** A connection with the temporary views it holds (name -> the exact CREATE statement). */
export interface PooledConnection {
  conn: DuckDBConnection;
  views: Map<string, string>;
  /** Statements prepared over exactly these views, by SQL text, least recently used first. */
  prepared: Map<string, DuckDBPreparedStatement>;
}

/** Prepared statements kept per connection. */
const MAX_PREPARED = 32;

/**
 * Idle DuckDB connections kept with their temporary views and the statements prepared over them, so a
 * repeated query over the same table versions (same chunk files) skips re-creating its views and
 * re-preparing. A connection serves one query at a time; one that saw any error or an interrupt is
 * closed, never reused.
 */
export class ConnectionPool {
  private readonly idle: PooledConnection[] = [];
  constructor(private readonly db: DuckDBInstance, private readonly maxIdle = 4) {}

  /**
   * An idle connection that already ran `sql` (its views and prepared statement are then likely
   * reusable: a dashboard's panels each go back to their own connection), else a new one (connecting is
   * cheap; rebinding another query's views is not). The idle connections form an LRU of `maxIdle`.
   */
  async acquire(sql?: string): Promise<PooledConnection> {
    const i = sql === undefined ? -1 : this.idle.findIndex((pc) => pc.prepared.has(sql));
    if (i >= 0) return this.idle.splice(i, 1)[0]!;
    return { conn: await this.db.connect(), views: new Map(), prepared: new Map() };
  }

  /** Creates or replaces views whose definition differs, and drops views the query does not use (so no other repo's names linger). */
  async ensureViews(pc: PooledConnection, wanted: ReadonlyMap<string, string>): Promise<void> {
    const changed = [...wanted].some(([name, sql]) => pc.views.get(name) !== sql) || [...pc.views.keys()].some((name) => !wanted.has(name));
    if (!changed) return;
    // A statement prepared over other views would read them: forget every one before touching a view.
    for (const p of pc.prepared.values()) p.destroySync();
    pc.prepared.clear();
    for (const [name, sql] of wanted) {
      if (pc.views.get(name) === sql) continue;
      await pc.conn.run(sql);
      pc.views.set(name, sql);
    }
    for (const name of [...pc.views.keys()]) {
      if (wanted.has(name)) continue;
      await pc.conn.run(`DROP VIEW IF EXISTS temp.main.${ident(name)}`);
      pc.views.delete(name);
    }
  }

  /**
   * `sql` prepared on this connection, reusing the statement prepared for the same text over the same
   * views (preparing binds every view's Parquet files and plans: ~1 ms, most of a small query's overhead).
   */
  async prepare(pc: PooledConnection, sql: string): Promise<DuckDBPreparedStatement> {
    const hit = pc.prepared.get(sql);
    if (hit) {
      pc.prepared.delete(sql);
      pc.prepared.set(sql, hit);
      return hit;
    }
    const prepared = await pc.conn.prepare(sql);
    pc.prepared.set(sql, prepared);
    if (pc.prepared.size > MAX_PREPARED) {
      const [oldest, stmt] = pc.prepared.entries().next().value as [string, DuckDBPreparedStatement];
      pc.prepared.delete(oldest);
      stmt.destroySync();
    }
    return prepared;
  }

  /** Keeps a reusable connection as the most recently used idle one (closing the least recently used past `maxIdle`). */
  release(pc: PooledConnection, reusable: boolean): void {
    if (!reusable) {
      pc.conn.closeSync();
      return;
    }
    this.idle.push(pc);
    if (this.idle.length > this.maxIdle) this.idle.shift()!.conn.closeSync();
  }

  closeAll(): void {
    for (const pc of this.idle.splice(0)) pc.conn.closeSync();
  }
}
