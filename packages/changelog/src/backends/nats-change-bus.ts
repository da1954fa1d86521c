import { connect, nanos, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import {
  DeliverPolicy, JetStreamApiError, jetstream, jetstreamManager, RetentionPolicy, StorageType,
  type ConsumerMessages, type JetStreamClient, type JetStreamManager, type OrderedConsumerOptions, type StreamConfig,
} from '@nats-io/jetstream';
import { BackendUnavailableError, InvalidArgumentError } from '@armillaria/core';
import type { BusFilter, ChangeBus, ChangeEvent, DeliveredEvent } from '../change-bus.js';
import { assertBusFilter, assertChangeEvent, matchesFilter, messageId } from '../change-event.js';
import { changeSubject, DEFAULT_SUBJECT_PREFIX } from '../subjects.js';

export const DEFAULT_CHANGE_STREAM = 'ARMILLARIA_CHANGES';
/**
 * Default JetStream duplicate window: 15 minutes, not NATS's 2. The window is how late a transaction
 * coordinator's recovery may republish (after a crash at "ref moved, events not yet acknowledged")
 * and still be deduplicated by the server; a pod restart under Kubernetes back-off alone can take 5
 * minutes, plus recovery's own scan. The cost is the server's in-memory id set: at 1,000 commits/s
 * that is ~900k ids of ~80 bytes, well under 100 MB; lower it for higher rates. Past the window,
 * subscriptions still drop a republished event (they skip commits at or below their cursor), so a
 * late duplicate can reach only raw `follow` readers.
 */
export const DEFAULT_DUPLICATE_WINDOW_MS = 15 * 60_000;

export interface NatsChangeBusOptions {
  /** An open connection (not closed by `close()`), or options to open one (closed by `close()`). */
  connection?: NatsConnection;
  servers?: string | string[];
  /** Extra connect options (auth, name…), used with `servers`. */
  connectOptions?: Omit<NodeConnectionOptions, 'servers'>;
  /** Stream name (default ARMILLARIA_CHANGES); created or updated on connect. */
  stream?: string;
  /** First subject token (default `armillaria`): the stream captures `<prefix>.>`. */
  subjectPrefix?: string;
  duplicateWindowMs?: number;
  /** Retention limits of the stream (default: keep everything). */
  maxAgeMs?: number;
  maxBytes?: number;
  /** Messages a follower pulls per request: the bound on what a slow reader holds in memory (default 256). */
  batch?: number;
  /** Publish acknowledgement timeout (default 10 s). */
  publishTimeoutMs?: number;
}

/**
 * ChangeBus on NATS JetStream: one stream over `<prefix>.>`, one subject per (repo, branch, table)
 * with percent-encoded tokens. Publishing sets the JetStream message id `${txnId}:${table}`, so a
 * republish inside the duplicate window is acknowledged as a duplicate and stored once. `follow` reads
 * through an ordered (ephemeral, flow-controlled, self-healing) pull consumer in batches of `batch`:
 * the next batch is requested only as the reader drains the previous one, so a slow reader holds a
 * bounded number of messages and the rest waits in the stream.
 */
export class NatsChangeBus implements ChangeBus {
  private readonly followers = new Set<ConsumerMessages>();
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly stream: string,
    private readonly prefix: string,
    private readonly options: NatsChangeBusOptions,
  ) {}

  static async connect(options: NatsChangeBusOptions): Promise<NatsChangeBus> {
    const stream = options.stream ?? DEFAULT_CHANGE_STREAM;
    const prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
    if (!/^[A-Za-z0-9_-]+$/.test(stream)) throw new InvalidArgumentError(`invalid stream name ${JSON.stringify(stream)}`);
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) throw new InvalidArgumentError(`invalid subject prefix ${JSON.stringify(prefix)}`);
    const windowMs = options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
    if (!(windowMs > 0)) throw new InvalidArgumentError('duplicateWindowMs must be positive');
    let nc = options.connection;
    const owns = !nc;
    if (!nc) {
      if (!options.servers) throw new InvalidArgumentError('NatsChangeBus needs `connection` or `servers`');
      try {
        nc = await connect({ maxReconnectAttempts: -1, reconnectTimeWait: 250, ...options.connectOptions, servers: options.servers });
      } catch (err) {
        throw new BackendUnavailableError(`cannot connect to NATS at ${String(options.servers)}: ${(err as Error).message}`, { cause: err });
      }
    }
    try {
      const jsm = await jetstreamManager(nc);
      const config: Partial<StreamConfig> & { name: string } = {
        name: stream,
        subjects: [`${prefix}.>`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        duplicate_window: nanos(windowMs),
        max_age: nanos(options.maxAgeMs ?? 0),
        max_bytes: options.maxBytes ?? -1,
      };
      try {
        const info = await jsm.streams.info(stream);
        const c = info.config;
        if (c.duplicate_window !== config.duplicate_window || c.max_age !== config.max_age || c.max_bytes !== config.max_bytes || !c.subjects?.includes(`${prefix}.>`)) {
          await jsm.streams.update(stream, { ...c, ...config, subjects: [...new Set([...(c.subjects ?? []), `${prefix}.>`])] });
        }
      } catch (err) {
        if (!(err instanceof JetStreamApiError) || err.status !== 404) throw err;
        await jsm.streams.add(config);
      }
      return new NatsChangeBus(nc, owns, jetstream(nc), jsm, stream, prefix, options);
    } catch (err) {
      if (owns) await nc.close().catch(() => undefined);
      throw new BackendUnavailableError(`cannot set up JetStream stream ${stream}: ${(err as Error).message}`, { cause: err });
    }
  }

  async publish(events: readonly ChangeEvent[]): Promise<void> {
    if (!Array.isArray(events)) throw new InvalidArgumentError('events must be an array');
    for (const e of events) assertChangeEvent(e);
    if (this.closed) throw new BackendUnavailableError('change bus is closed');
    // One connection keeps publish order; waiting for all acks together costs one round trip.
    const acks = events.map((e) => {
      const { rows: _rows, ...summary } = e;
      return this.js.publish(changeSubject(this.prefix, e.repo, e.branch, e.table), JSON.stringify(summary), {
        msgID: messageId(e),
        timeout: this.options.publishTimeoutMs ?? 10_000,
      });
    });
    const settled = await Promise.allSettled(acks);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      // Safe to retry whole: the ones that landed are deduplicated by message id.
      throw new BackendUnavailableError(`publishing change events failed: ${(failed.reason as Error)?.message ?? failed.reason}`, { cause: failed.reason });
    }
  }

  async *follow(filter: BusFilter, opts: { afterBusSeq?: number; signal?: AbortSignal } = {}): AsyncIterable<DeliveredEvent> {
    assertBusFilter(filter);
    const { afterBusSeq, signal } = opts;
    if (afterBusSeq !== undefined && (!Number.isSafeInteger(afterBusSeq) || afterBusSeq < 0)) {
      throw new InvalidArgumentError('afterBusSeq must be a non-negative integer');
    }
    if (this.closed || signal?.aborted) return;
    // nats-server 2.9 takes one filter subject: one table gets its own subject, several share the branch wildcard.
    const single = filter.tables?.length === 1 ? filter.tables[0] : undefined;
    const subject = changeSubject(this.prefix, filter.repo, filter.branch, single);
    // A concrete start, so a consumer re-created after a server restart misses nothing.
    let last = afterBusSeq ?? (await this.lastSeq());
    let established = false;
    let failures = 0;
    while (!this.closed && !signal?.aborted) {
      let messages: ConsumerMessages;
      try {
        messages = await this.consume(subject, last);
      } catch (err) {
        // The first attempt reports an unreachable server or a missing stream; later ones are reconnects and keep trying.
        if (!established) throw new BackendUnavailableError(`cannot follow ${this.stream}: ${(err as Error).message}`, { cause: err });
        failures++;
        await abortableSleep(Math.min(2_000, 100 * 2 ** Math.min(failures, 5)), signal);
        continue;
      }
      failures = 0;
      established = true;
      this.followers.add(messages);
      const stop = (): void => void messages.stop();
      signal?.addEventListener('abort', stop, { once: true });
      try {
        for await (const m of messages) {
          last = m.seq;
          const event = m.json<ChangeEvent>();
          if (matchesFilter(event, filter)) yield { event, busSeq: m.seq };
        }
      } catch {
        // The consumer failed (server restarted, consumer lost): start a new one after `last` below.
      } finally {
        signal?.removeEventListener('abort', stop);
        this.followers.delete(messages);
        messages.stop();
      }
    }
  }

  /** An ordered consumer on `subject` after stream sequence `after`. */
  private async consume(subject: string, after: number): Promise<ConsumerMessages> {
    const consumerOpts: Partial<OrderedConsumerOptions> = {
      filter_subjects: subject,
      deliver_policy: after === 0 ? DeliverPolicy.All : DeliverPolicy.StartSequence,
      ...(after ? { opt_start_seq: after + 1 } : {}),
    };
    const consumer = await this.js.consumers.get(this.stream, consumerOpts);
    const batch = this.options.batch ?? 256;
    return consumer.consume({ max_messages: batch, threshold_messages: Math.max(1, Math.floor(batch / 2)) });
  }

  async lastSeq(): Promise<number> {
    try {
      const info = await this.jsm.streams.info(this.stream);
      return info.state.last_seq;
    } catch (err) {
      throw new BackendUnavailableError(`cannot read stream ${this.stream}: ${(err as Error).message}`, { cause: err });
    }
  }

  async ping(): Promise<void> {
    if (this.closed) throw new BackendUnavailableError('change bus is closed');
    await this.lastSeq();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.followers) m.stop();
    this.followers.clear();
    if (this.ownsConnection) await this.nc.drain().catch(() => this.nc.close());
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
