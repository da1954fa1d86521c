import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { spawnNode } from '@armillaria/testkit';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Changelog, type ChangeEvent } from '../src/index.js';
import { openCoordinatorStack } from './coordinator-stack.js';
import { expectedEvents, ids, schema } from './subscribe.suite.js';
import { take } from './helpers.js';

const worker = fileURLToPath(new URL('./workers/coordinator-worker.ts', import.meta.url));
const url = process.env.ARMILLARIA_NATS_URL;

/**
 * The transaction coordinator publishing through the changelog: coordinators killed right after the
 * ref moved (events not yet published) and right after publishing (before DONE); recovery in a new
 * process publishes the missing events and republishes the others, and the bus and a subscriber see
 * every (transaction, table) exactly once, in commit order.
 */
async function crashScenario(nats?: { url: string; stream: string; prefix: string }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-changelog-coord-'));
  try {
    let stack = await openCoordinatorStack(dir, nats);
    const changelog = () => new Changelog({ catalog: stack.catalog, bus: stack.bus });
    await stack.catalog.createRepo('crash');
    for (const [t, pk] of [['kv', ['id']], ['log', undefined]] as const) {
      const res = await stack.catalog.createTable('crash', t, { schema, ...(pk ? { primaryKey: [...pk] } : {}) });
      await changelog().publishCommit('crash', 'main', res.commit);
    }
    await stack.close();
    const faults = ['after-cas', 'after-cas', 'after-publish', 'after-cas'];
    for (const [n, fault] of faults.entries()) {
      const proc = spawnNode(worker, { args: [dir, String(n), ...(nats ? [nats.url, nats.stream, nats.prefix] : [])], env: { ARMILLARIA_FAULT: fault } });
      const exit = await proc.exited;
      expect(exit.signal, proc.stderr()).toBe('SIGKILL');
    }
    stack = await openCoordinatorStack(dir, nats);
    try {
      // Before recovery: the commits are there, their events (but the after-publish one) are not.
      expect(await stack.bus.lastSeq()).toBe(2 + 2);
      await stack.coordinator.recover();
      await stack.coordinator.recover();
      const all = await expectedEvents(stack.catalog, 'crash', 'main', -1);
      expect(all.length).toBe(2 + 2 * faults.length);
      expect(await stack.bus.lastSeq()).toBe(all.length);
      const onBus = (await take(stack.bus.follow({ repo: 'crash', branch: 'main' }, { afterBusSeq: 0 }), all.length)).map((d) => d.event);
      const key = (e: ChangeEvent): string => `${e.commit}:${e.table}`;
      expect(new Set(onBus.map(key)).size).toBe(all.length);
      expect([...onBus.map(key)].sort()).toEqual([...all.map(key)].sort());
      const got = await take(changelog().subscribe({ repo: 'crash', branch: 'main', from: 'earliest' }), all.length);
      expect(ids(got)).toEqual(ids(all));
    } finally {
      await stack.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (nats) {
      const nc = await connect({ servers: nats.url });
      await (await jetstreamManager(nc)).streams.delete(nats.stream).catch(() => undefined);
      await nc.close();
    }
  }
}

describe('coordinator killed after the ref moved: recovery publishes through the changelog exactly once', () => {
  it('embedded bus', () => crashScenario(), 180_000);
  it.skipIf(!url)('NATS JetStream', () => crashScenario({ url: url!, stream: `CHG_COORD_${process.pid}_${Date.now()}`, prefix: `armcoord${process.pid}` }), 180_000);
});
