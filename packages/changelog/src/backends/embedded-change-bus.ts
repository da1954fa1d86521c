import { open, mkdir, type FileHandle } from 'node:fs/promises';
import { readFileSync, existsSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { ArmillariaError, BackendUnavailableError, ErrorCode, InvalidArgumentError } from '@armillaria/core';
import type { BusFilter, ChangeBus, ChangeEvent, DeliveredEvent } from '../change-bus.js';
import { assertBusFilter, assertChangeEvent, matchesFilter, messageId } from '../change-event.js';
import { Notifier } from '../notifier.js';

export interface EmbeddedChangeBusOptions {
  /**
   * Directory of the append-only log (`changes.jsonl`). Omitted: memory only (tests, throwaway
   * repos); nothing survives the process.
   */
  dir?: string;
  /** fsync after every publish (default true): a published event survives a crash of the machine. */
  fsync?: boolean;
}

interface LogLine {
  /** Bus sequence, 1-based. */
  s: number;
  e: ChangeEvent;
}

const LOG_FILE = 'changes.jsonl';

/**
 * The embedded ChangeBus: in-process fan-out over an append-only JSON-lines log. Every published event
 * is one line `{"s":<busSeq>,"e":<event>}`, appended and fsynced before `publish` returns, so a restart
 * replays the log and rebuilds the dedup set (message id `${txnId}:${table}`), which therefore survives
 * restarts with no time window. Readers hold only a position into the log, never a buffer of their
 * own, so a slow reader costs nothing but its position (backpressure is the reader's own pace).
 *
 * One process owns a log directory at a time (the embedded mode runs one process).
 */
export class EmbeddedChangeBus implements ChangeBus {
  private readonly entries: ChangeEvent[] = [];
  private readonly ids = new Set<string>();
  private readonly notifier = new Notifier();
  private file: FileHandle | undefined;
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(private readonly options: EmbeddedChangeBusOptions) {}

  /** Opens (creating if needed) the log in `options.dir` and replays it. */
  static async open(options: EmbeddedChangeBusOptions = {}): Promise<EmbeddedChangeBus> {
    const bus = new EmbeddedChangeBus(options);
    if (options.dir) {
      await mkdir(options.dir, { recursive: true });
      const path = join(options.dir, LOG_FILE);
      bus.replay(path);
      bus.file = await open(path, 'a');
    }
    return bus;
  }

  private replay(path: string): void {
    if (!existsSync(path)) return;
    const bytes = readFileSync(path);
    let offset = 0;
    while (offset < bytes.length) {
      const nl = bytes.indexOf(0x0a, offset);
      // A line without its newline is a write torn by a crash: it was never acknowledged, drop it.
      if (nl < 0) break;
      let parsed: LogLine;
      try {
        parsed = JSON.parse(bytes.subarray(offset, nl).toString('utf8')) as LogLine;
        assertChangeEvent(parsed.e);
      } catch (err) {
        throw new ArmillariaError(ErrorCode.CorruptMetadata, `change log ${path} is corrupt at byte ${offset}`, { cause: err, details: { path, offset } });
      }
      if (parsed.s !== this.entries.length + 1) {
        throw new ArmillariaError(ErrorCode.CorruptMetadata, `change log ${path}: sequence ${parsed.s} where ${this.entries.length + 1} was expected`, { details: { path, offset } });
      }
      this.entries.push(parsed.e);
      this.ids.add(messageId(parsed.e));
      offset = nl + 1;
    }
    if (offset < bytes.length) truncateSync(path, offset);
  }

  async publish(events: readonly ChangeEvent[]): Promise<void> {
    if (!Array.isArray(events)) throw new InvalidArgumentError('events must be an array');
    for (const e of events) assertChangeEvent(e);
    if (this.closed) throw new BackendUnavailableError('change bus is closed');
    // Appends are serialised so log order = bus sequence order, whoever calls.
    const run = this.tail.then(() => this.append(events));
    this.tail = run.catch(() => undefined);
    await run;
  }

  private async append(events: readonly ChangeEvent[]): Promise<void> {
    const fresh: ChangeEvent[] = [];
    const batchIds = new Set<string>();
    for (const e of events) {
      const id = messageId(e);
      if (this.ids.has(id) || batchIds.has(id)) continue;
      batchIds.add(id);
      // Rows are computed on demand by readers; the log keeps the event summary only.
      const { rows: _rows, ...summary } = e;
      fresh.push(summary);
    }
    if (fresh.length === 0) return;
    if (this.file) {
      const text = fresh.map((e, i) => JSON.stringify({ s: this.entries.length + i + 1, e } satisfies LogLine)).join('\n') + '\n';
      await this.file.appendFile(text, 'utf8');
      if (this.options.fsync ?? true) await this.file.datasync();
    }
    for (const e of fresh) {
      this.entries.push(e);
      this.ids.add(messageId(e));
    }
    this.notifier.notify();
  }

  async *follow(filter: BusFilter, opts: { afterBusSeq?: number; signal?: AbortSignal } = {}): AsyncIterable<DeliveredEvent> {
    assertBusFilter(filter);
    const { signal } = opts;
    if (opts.afterBusSeq !== undefined && (!Number.isSafeInteger(opts.afterBusSeq) || opts.afterBusSeq < 0)) {
      throw new InvalidArgumentError('afterBusSeq must be a non-negative integer');
    }
    let pos = opts.afterBusSeq ?? this.entries.length;
    while (!signal?.aborted && !this.closed) {
      if (pos < this.entries.length) {
        const event = this.entries[pos] as ChangeEvent;
        pos++;
        if (matchesFilter(event, filter)) yield { event, busSeq: pos };
        continue;
      }
      await this.notifier.wait(signal);
    }
  }

  async lastSeq(): Promise<number> {
    return this.entries.length;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new BackendUnavailableError('change bus is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.notifier.close();
    await this.tail;
    await this.file?.close();
    this.file = undefined;
  }
}
