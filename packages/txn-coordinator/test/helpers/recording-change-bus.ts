import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { BusFilter, ChangeBus, ChangeEvent, DeliveredEvent } from '@armillaria/changelog';

/**
 * An in-process ChangeBus that records what it is given, deduplicating by `${txnId}:${table}` like the
 * real buses. With `file`, every delivered event is appended (JSON lines, fsync'd by appendFileSync's
 * close) and the file is re-read before each publish, so several processes and restarts share one
 * history: exactly what a crash test needs to count events.
 */
export class RecordingChangeBus implements ChangeBus {
  readonly delivered: ChangeEvent[] = [];
  /** Every publish call's events, duplicates included. */
  readonly attempts: ChangeEvent[][] = [];
  private readonly ids = new Set<string>();

  constructor(private readonly file?: string) {
    this.reload();
  }

  private reload(): void {
    if (!this.file || !existsSync(this.file)) return;
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as ChangeEvent;
      const id = `${e.txnId}:${e.table}`;
      if (!this.ids.has(id)) {
        this.ids.add(id);
        this.delivered.push(e);
      }
    }
  }

  async publish(events: readonly ChangeEvent[]): Promise<void> {
    this.attempts.push([...events]);
    this.reload();
    for (const e of events) {
      const id = `${e.txnId}:${e.table}`;
      if (this.ids.has(id)) continue;
      this.ids.add(id);
      this.delivered.push(e);
      if (this.file) appendFileSync(this.file, `${JSON.stringify(e)}\n`);
    }
  }

  async *follow(filter: BusFilter, opts: { afterBusSeq?: number; signal?: AbortSignal } = {}): AsyncIterable<DeliveredEvent> {
    let i = opts.afterBusSeq ?? this.delivered.length;
    while (!opts.signal?.aborted) {
      while (i < this.delivered.length) {
        const event = this.delivered[i++] as ChangeEvent;
        if (event.repo === filter.repo && event.branch === filter.branch && (!filter.tables || filter.tables.includes(event.table))) yield { event, busSeq: i };
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async lastSeq(): Promise<number> {
    return this.delivered.length;
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}
