import type { FastifyPluginAsync } from 'fastify';
import { InvalidArgumentError, errorReplyBody } from '@armillaria/core';
import type { Changelog } from '../../changelog.js';
import { commitEvents } from '../../commit-events.js';
import { afterEventId, eventId, parseFrom } from '../from-param.js';

export interface ChangesRoutesOptions {
  changelog: Changelog;
  /** Comment lines sent on idle streams so proxies keep them open (default 15 s). */
  heartbeatMs?: number;
}

interface ChangesQuery {
  branch?: string;
  tables?: string;
  from?: string;
  rows?: string;
  durable?: string;
}

const bool = (v: string | undefined, field: string): boolean => {
  if (v === undefined || v === '' || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1') return true;
  throw new InvalidArgumentError(`${field} must be true or false`, { details: { field } });
};

/**
 * `GET /repos/:repo/changes`: a subscription as server-sent events (`event: change`, `id:
 * <commit>:<table>`, `data: <ChangeEvent JSON>`). A client reconnecting with `Last-Event-ID` resumes
 * right after that event. Setup errors answer with the usual typed JSON error; an error after the
 * stream started is sent as `event: error` with `{code, message}` and ends it. Writes wait for the
 * socket to drain, so a slow client slows its own subscription and nothing piles up in memory.
 *
 * With `durable=<name>` the stream starts after the saved cursor but never moves it: the client saves
 * it with `PUT /repos/:repo/changes/cursors/:name` `{branch, commit, table}` once it has processed an
 * event, since written to the socket is not processed.
 *
 * `GET /repos/:repo/commits/:commit/events?branch=&rows=`: one commit's events.
 */
export const changesRoutes: FastifyPluginAsync<ChangesRoutesOptions> = async (app, opts) => {
  const { changelog } = opts;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  // Open streams end when the server closes, instead of holding `close()` until their clients leave.
  const streams = new Set<AbortController>();
  app.addHook('preClose', async () => {
    for (const ac of streams) ac.abort();
  });

  app.get<{ Params: { repo: string }; Querystring: ChangesQuery }>('/repos/:repo/changes', async (request, reply) => {
    const q = request.query;
    const lastEventId = request.headers['last-event-id'];
    const resume = typeof lastEventId === 'string' && lastEventId ? afterEventId(lastEventId) : undefined;
    if (typeof lastEventId === 'string' && lastEventId && !resume) throw new InvalidArgumentError('Last-Event-ID must be <commit>:<table>', { details: { field: 'Last-Event-ID' } });
    const ac = new AbortController();
    const tables = q.tables ? q.tables.split(',').map((t) => t.trim()).filter(Boolean) : undefined;
    const events = await changelog.open({
      repo: request.params.repo,
      branch: q.branch ?? '',
      ...(tables ? { tables } : {}),
      from: resume ?? parseFrom(q.from),
      rows: bool(q.rows, 'rows'),
      // Written to a socket is not processed: the remote client acks through the cursor route.
      ...(q.durable ? { durableName: q.durable, autoAck: false } : {}),
      signal: ac.signal,
    });

    reply.hijack();
    streams.add(ac);
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // One stream per connection: the socket closes with the stream, so nothing idles open after it.
      connection: 'close',
      'x-accel-buffering': 'no',
    });
    const closed = (): void => ac.abort();
    request.raw.once('close', closed);
    res.once('close', closed);
    const write = async (text: string): Promise<void> => {
      if (ac.signal.aborted) return;
      if (!res.write(text)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            ac.signal.removeEventListener('abort', done);
            resolve();
          };
          res.once('drain', done);
          ac.signal.addEventListener('abort', done, { once: true });
        });
      }
    };
    const heartbeat = setInterval(() => void write(': keep-alive\n\n'), heartbeatMs);
    await write(': subscribed\n\n');
    try {
      for await (const e of events) {
        await write(`id: ${eventId(e)}\nevent: change\ndata: ${JSON.stringify(e)}\n\n`);
        if (ac.signal.aborted) break;
      }
    } catch (err) {
      const body = errorReplyBody(err);
      if (body.statusCode >= 500) request.log.error({ err }, 'change stream failed');
      await write(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
    } finally {
      clearInterval(heartbeat);
      streams.delete(ac);
      request.raw.off('close', closed);
      // The response was hijacked from Fastify, so closing the connection is ours too.
      res.end(() => res.socket?.destroy());
    }
  });

  app.put<{ Params: { repo: string; name: string }; Body: { branch?: string; commit?: string; table?: string } }>(
    '/repos/:repo/changes/cursors/:name',
    async (request, reply) => {
      const b = request.body ?? {};
      await changelog.ack(request.params.name, { repo: request.params.repo, branch: b.branch ?? '', commit: b.commit ?? '', table: b.table ?? '' });
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { repo: string; commit: string }; Querystring: { branch?: string; rows?: string } }>(
    '/repos/:repo/commits/:commit/events',
    async (request) => {
      const { repo, commit } = request.params;
      const c = await changelog.catalog.resolve(repo, commit);
      return { events: await commitEvents(changelog.catalog, repo, request.query.branch ?? '', c, { rows: bool(request.query.rows, 'rows') }) };
    },
  );
};
