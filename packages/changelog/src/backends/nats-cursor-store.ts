import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError, jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { ArmillariaError, BackendUnavailableError, ErrorCode, InvalidArgumentError, isHash } from '@armillaria/core';
import { assertDurableName, type Cursor, type CursorStore } from '../cursor-store.js';

export const DEFAULT_CURSOR_STREAM = 'ARMILLARIA_CURSORS';

export interface NatsCursorStoreOptions {
  connection?: NatsConnection;
  servers?: string | string[];
  /** Stream holding the cursors (default ARMILLARIA_CURSORS), one subject per name, last value kept. */
  stream?: string;
}

/**
 * Durable subscription cursors in JetStream, for services without a shared disk: a stream keeping
 * one message per subject (`armillaria-cursors.<name>`, like a KV bucket); `save` publishes and waits
 * for the stream's ack (stored), `load` reads the last message of the subject.
 */
export class NatsCursorStore implements CursorStore {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly owns: boolean,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
  ) {}

  static async connect(options: NatsCursorStoreOptions): Promise<NatsCursorStore> {
    const stream = options.stream ?? DEFAULT_CURSOR_STREAM;
    if (!/^[A-Za-z0-9_-]+$/.test(stream)) throw new InvalidArgumentError(`invalid stream name ${JSON.stringify(stream)}`);
    let nc = options.connection;
    const owns = !nc;
    try {
      if (!nc) {
        if (!options.servers) throw new InvalidArgumentError('NatsCursorStore needs `connection` or `servers`');
        nc = await connect({ servers: options.servers, maxReconnectAttempts: -1 });
      }
      const jsm = await jetstreamManager(nc);
      try {
        await jsm.streams.info(stream);
      } catch (err) {
        if (!(err instanceof JetStreamApiError) || err.status !== 404) throw err;
        await jsm.streams.add({ name: stream, subjects: [`${subjectPrefix(stream)}.>`], storage: StorageType.File, max_msgs_per_subject: 1 });
      }
      return new NatsCursorStore(nc, owns, jetstream(nc), jsm, stream);
    } catch (err) {
      if (owns) await nc?.close().catch(() => undefined);
      if (err instanceof ArmillariaError) throw err;
      throw new BackendUnavailableError(`cannot set up cursor stream ${stream}: ${(err as Error).message}`, { cause: err });
    }
  }

  async load(name: string): Promise<Cursor | undefined> {
    assertDurableName(name);
    let msg;
    try {
      msg = await this.jsm.streams.getMessage(this.stream, { last_by_subj: this.subject(name) });
    } catch (err) {
      if (err instanceof JetStreamApiError && err.status === 404) return undefined;
      throw new BackendUnavailableError(`cannot read cursor ${name}: ${(err as Error).message}`, { cause: err });
    }
    if (!msg) return undefined;
    const c = msg.json<Partial<Cursor>>();
    if (!c || typeof c.repo !== 'string' || typeof c.branch !== 'string' || !isHash(c.commit) || typeof c.seq !== 'number' || typeof c.table !== 'string') {
      throw new ArmillariaError(ErrorCode.CorruptMetadata, `cursor ${name} in stream ${this.stream} is corrupt`, { details: { name } });
    }
    return c as Cursor;
  }

  async save(name: string, cursor: Cursor): Promise<void> {
    assertDurableName(name);
    try {
      await this.js.publish(this.subject(name), JSON.stringify(cursor));
    } catch (err) {
      throw new BackendUnavailableError(`cannot save cursor ${name}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.owns) await this.nc.drain().catch(() => this.nc.close());
  }

  private subject(name: string): string {
    // Durable names allow dots, the NATS token separator: encoded, so a name is always one token.
    return `${subjectPrefix(this.stream)}.${name.replace(/\./g, '%2E')}`;
  }
}

function subjectPrefix(stream: string): string {
  return `armillaria-cursors-${stream.toLowerCase()}`;
}
