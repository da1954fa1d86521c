// One model for batch and stream: the op of an event replayed from the catalog (`commitEvents`) is the op
// the live event carried, also for transaction commits whose message says nothing about what they did.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from '@armillaria/testkit';
import { commitEvents, type ChangeEvent } from '../src/index.js';
import { openCoordinatorStack, type CoordinatorStack } from './coordinator-stack.js';

describe('ops of transaction commits, live vs replayed', () => {
  let dir: TempDir;
  let stack: CoordinatorStack;
  beforeAll(async () => {
    dir = tempDir('armillaria-replay-ops');
    stack = await openCoordinatorStack(dir.path);
    await stack.catalog.createRepo('shop');
    const rows = Array.from({ length: 200 }, (_, i) => ({ id: BigInt(i), v: i }));
    await stack.catalog.createTable('shop', 'items', { rows, primaryKey: ['id'] });
    await stack.catalog.createTable('shop', 'audit', { rows: [{ n: 0n }] });
  });
  afterAll(async () => {
    await stack?.close();
    await dir?.cleanup();
  });

  it('upserted / deleted / appended / created, the same from the bus and from the catalog', async () => {
    const { coordinator, catalog, bus } = stack;
    const from = await bus.lastSeq();
    const commits: string[] = [];
    const run = async (stage: (txnId: string) => Promise<void>): Promise<void> => {
      const t = await coordinator.begin({ repo: 'shop', branch: 'main' });
      await stage(t.id);
      commits.push((await coordinator.commit(t.id, { message: 'nightly job' })).commit);
    };
    await run(async (id) => {
      await coordinator.upsert(id, 'items', [{ id: 5n, v: 500 }, { id: 300n, v: 3 }]);
      await coordinator.append(id, 'audit', [{ n: 1n }]);
    });
    await run(async (id) => {
      await coordinator.deleteRows(id, 'items', [{ id: 7n }]);
    });
    await run(async (id) => {
      await coordinator.createTable(id, 'fresh', { schema: { fields: [{ name: 'x', type: 'int32' }] } });
    });

    const live: ChangeEvent[] = [];
    const stop = new AbortController();
    for await (const d of bus.follow({ repo: 'shop', branch: 'main' }, { afterBusSeq: from, signal: stop.signal })) {
      live.push(d.event);
      if (live.length === 4) break;
    }
    const replayed = (await Promise.all(commits.map((c) => commitEvents(catalog, 'shop', 'main', c as never)))).flat();
    const ops = (events: ChangeEvent[]) => events.map((e) => `${e.commit.slice(0, 8)} ${e.table} ${e.op}`);
    expect(ops(replayed)).toEqual(ops(live));
    expect(replayed.map((e) => e.op)).toEqual(['appended', 'upserted', 'deleted', 'created']);
  });
});
