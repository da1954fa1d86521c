import { BackendUnavailableError, HttpClient, errorFromBody, isArmillariaError, sleep } from '@armillaria/core';
import type { ChangeEvent } from './change-bus.js';
import type { SubscribeFrom, SubscribeOptions } from './changelog.js';
import { assertDurableName } from './cursor-store.js';

export interface RemoteChangeSubscriberOptions {
  /** Base URL of the changelog service (or the gateway), e.g. `http://127.0.0.1:7004`. */
  baseUrl: string;
  token?: string;
  /** Wait before reconnecting a dropped stream (default 250 ms, doubling up to 5 s). */
  reconnectDelayMs?: number;
  /** Consecutive failed reconnects before giving up with BACKEND_UNAVAILABLE (default 20). */
  maxReconnects?: number;
}

/** `from` as the service's query parameter (see `parseFrom`). */
export function fromParam(from: SubscribeFrom | undefined): string {
  if (from === undefined || from === 'latest') return 'latest';
  if (from === 'earliest') return 'earliest';
  if ('commit' in from) return `commit:${from.commit}`;
  if ('time' in from) return `time:${from.time instanceof Date ? from.time.getTime() : from.time}`;
  if ('afterEvent' in from) return `after:${from.afterEvent.commit}:${from.afterEvent.table}`;
  return from.table ? `version:${from.table}:${from.version}` : `version:${from.version}`;
}

interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** Splits a text/event-stream body into messages (comments and retry lines ignored). */
async function* sseMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const msg: SseMessage = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') msg.id = value;
        else if (field === 'event') msg.event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0) continue;
      msg.data = data.join('\n');
      yield msg;
    }
  }
}

/**
 * A subscription to a remote changelog service over server-sent events, with the same options and
 * events as `Changelog.subscribe`. A dropped connection is reopened with `Last-Event-ID`, so the
 * service resumes right after the last event received: no gap, no duplicate. Errors are the same
 * typed errors the embedded changelog throws.
 */
export class RemoteChangeSubscriber {
  private readonly http: HttpClient;
  constructor(private readonly options: RemoteChangeSubscriberOptions) {
    // A stream lives as long as its reader wants it: no request timeout (~24 days is the timer's limit).
    this.http = new HttpClient({ baseUrl: options.baseUrl, ...(options.token ? { token: options.token } : {}), timeoutMs: 2 ** 31 - 1, retries: 3 });
  }

  async *subscribe(opts: SubscribeOptions): AsyncGenerator<ChangeEvent> {
    if (opts.durableName !== undefined) assertDurableName(opts.durableName);
    const q = new URLSearchParams({ branch: opts.branch, from: fromParam(opts.from) });
    if (opts.tables) q.set('tables', opts.tables.join(','));
    if (opts.rows) q.set('rows', 'true');
    if (opts.durableName) q.set('durable', opts.durableName);
    const repo = encodeURIComponent(opts.repo);
    const path = `/repos/${repo}/changes?${q}`;
    let lastId: string | undefined;
    let failures = 0;
    // Durable: the cursor moves when the reader asks for the next event (or returns), as in-process.
    let pendingAck: ChangeEvent | undefined;
    const ack = async (): Promise<void> => {
      const e = pendingAck;
      pendingAck = undefined;
      if (!e || !opts.durableName) return;
      await this.http.request(`/repos/${repo}/changes/cursors/${encodeURIComponent(opts.durableName)}`, {
        method: 'PUT',
        idempotent: true,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ branch: e.branch, commit: e.commit, table: e.table }),
      });
    };
    try {
      while (!opts.signal?.aborted) {
        let res: Response;
        try {
          res = await this.http.request(path, {
            headers: { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
            ...(opts.signal ? { signal: opts.signal } : {}),
          });
        } catch (err) {
          if (opts.signal?.aborted) return;
          // The first connection reports its error; a reconnect keeps trying a while (the service restarting).
          if (lastId === undefined || ++failures > (this.options.maxReconnects ?? 20)) throw err;
          await sleep(this.delay(failures));
          continue;
        }
        try {
          for await (const m of sseMessages(res.body as ReadableStream<Uint8Array>)) {
            if (m.event === 'error') throw errorFromBody(JSON.parse(m.data), 'change stream failed');
            if (m.event !== 'change') continue;
            failures = 0;
            const event = JSON.parse(m.data) as ChangeEvent;
            if (m.id) lastId = m.id;
            pendingAck = event;
            yield event;
            await ack();
          }
        } catch (err) {
          if (opts.signal?.aborted) return;
          // A typed error sent by the service ends the subscription; a broken connection is reopened below.
          if (isArmillariaError(err)) throw err;
        } finally {
          await res.body?.cancel().catch(() => undefined);
        }
        if (opts.signal?.aborted) return;
        failures++;
        if (failures > (this.options.maxReconnects ?? 20)) throw new BackendUnavailableError(`change stream ${path} kept dropping`);
        await sleep(this.delay(failures));
      }
    } finally {
      // return() while an event was out: the reader took it.
      await ack();
    }
  }

  private delay(failures: number): number {
    return Math.min(5_000, (this.options.reconnectDelayMs ?? 250) * 2 ** Math.max(0, failures - 1));
  }
}
