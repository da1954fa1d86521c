import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { ident } from './views.js';

/** A connection with the temporary views it holds (name -> the exact CREATE statement). */
export interface PooledConnection {
  conn: DuckDBConnection;
  views: Map<string, string>;
}

/**
 * Idle DuckDB connections kept with their temporary views, so a repeated query over the same table
 * versions (same chunk files) skips re-creating and re-binding its views. A connection serves one query
 * at a time; one that saw any error or an interrupt is closed, never reused.
 */
export class ConnectionPool {
  private readonly idle: PooledConnection[] = [];
  constructor(private readonly db: DuckDBInstance, private readonly maxIdle = 4) {}

  async acquire(): Promise<PooledConnection> {
    return this.idle.pop() ?? { conn: await this.db.connect(), views: new Map() };
  }

  /** Creates or replaces views whose definition differs, and drops views the query does not use (so no other repo's names linger). */
  async ensureViews(pc: PooledConnection, wanted: ReadonlyMap<string, string>): Promise<void> {
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

  release(pc: PooledConnection, reusable: boolean): void {
    if (reusable && this.idle.length < this.maxIdle) this.idle.push(pc);
    else pc.conn.closeSync();
  }

  closeAll(): void {
    for (const pc of this.idle.splice(0)) pc.conn.closeSync();
  }
}
