import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, isArmillariaError, sleep } from '@armillaria/core';
import type { Commit } from '@armillaria/catalog';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Changelog, EmbeddedChangeBus, MemoryCursorStore, NatsChangeBus, type ChangeBus, type ChangeEvent } from '../src/index.js';
import { embeddedCatalog, rng, type CatalogFixture } from './catalog-fixture.js';
import { NatsProcess } from './nats-process.js';
import { expectedEvents, ids, schema } from './subscribe.suite.js';

const COMMITS = Number(process.env.ARMILLARIA_CHANGELOG_COMMITS ?? 1000);
const WRITERS = 4;
const TABLES = ['t0', 't1', 't2'];
const url = process.env.ARMILLARIA_NATS_URL;

type Mode = 'plain' | 'killed' | 'nats-restart';

interface Scenario {
  commits: number;
  fx: CatalogFixture;
  bus: ChangeBus;
  changelog: Changelog;
  /** Called when this many commits are done (restart the server…). */
  at?: { commits: number; action(): Promise<void> };
}

/**
 * WRITERS concurrent writers make COMMITS single-table commits (some on the same table, so the catalog
 * rebases or refuses and they retry), each publishing its events the way the coordinator does: after
 * the ref moved, retried until the bus takes them. Some publishes are repeated (a recovery after a
 * crash) and some are delayed until after the writer's next commit (out of order). A subscriber starts
 * when a third of the commits exist, from the head seen at a tenth.
 */
async function runScenario(s: Scenario, mode: Mode, seed: number): Promise<{ got: ChangeEvent[]; start: Commit }> {
  const { fx, changelog, commits: COMMITS } = s;
  const { catalog } = fx;
  const rand = rng(seed);
  let done = 0;
  let start: Commit | undefined;
  let startSubscriber!: () => void;
  const subscriberMayStart = new Promise<void>((resolve) => (startSubscriber = resolve));
  const publish = async (c: Commit): Promise<void> => {
    for (;;) {
      try {
        await changelog.publishCommit('r', 'main', c);
        return;
      } catch (err) {
        if (!isArmillariaError(err, ErrorCode.BackendUnavailable)) throw err;
        await sleep(100);
      }
    }
  };
  const writer = async (w: number): Promise<void> => {
    let delayed: Commit | undefined;
    for (let i = w; i < COMMITS; i += WRITERS) {
      const table = TABLES[(w + i) % TABLES.length]!;
      let commit: Commit;
      for (;;) {
        try {
          commit = (await catalog.upsert('r', table, [{ id: i, v: `w${w}-${i}` }])).commit;
          break;
        } catch (err) {
          if (!isArmillariaError(err, ErrorCode.RefConflict)) throw err;
        }
      }
      const p = rand();
      if (p < 0.05) {
        if (delayed) await publish(delayed);
        delayed = commit; // published after this writer's next commit
      } else {
        await publish(commit);
        if (p < 0.1) await publish(commit); // a recovery republishing
        if (delayed) await publish(delayed);
        delayed = undefined;
      }
      done++;
      if (done === Math.floor(COMMITS / 10)) start = await catalog.resolve('r', 'main');
      if (done === Math.floor(COMMITS / 3)) startSubscriber();
      if (s.at && done === s.at.commits) await s.at.action();
    }
    if (delayed) await publish(delayed);
  };

  const writers = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
  await subscriberMayStart;
  const from = { commit: start!.hash };
  const got: ChangeEvent[] = [];
  let finalHead: string | undefined;
  const finished = (): boolean => finalHead !== undefined && got.some((e) => e.commit === finalHead);
  const subscriber = (async () => {
    if (mode !== 'killed') {
      const ac = new AbortController();
      const watch = setInterval(() => finished() && ac.abort(), 50);
      try {
        for await (const e of changelog.subscribe({ repo: 'r', branch: 'main', from, signal: ac.signal })) got.push(e);
      } finally {
        clearInterval(watch);
      }
      return;
    }
    // Killed and resumed: each session ends by return() after a few events, or by an abort at a random moment.
    for (let session = 0; !finished(); session++) {
      const ac = new AbortController();
      const limit = 1 + Math.floor(rand() * 60);
      const timer = session % 3 === 2 ? setTimeout(() => ac.abort(), Math.floor(rand() * 30)) : undefined;
      // The last event may arrive before the final head is known: stop waiting once it is.
      const watch = setInterval(() => finished() && ac.abort(), 50);
      let n = 0;
      for await (const e of changelog.subscribe({ repo: 'r', branch: 'main', from, durableName: 'exactly-once', signal: ac.signal })) {
        got.push(e);
        if (++n >= limit || finished()) break;
      }
      clearTimeout(timer);
      clearInterval(watch);
    }
  })();
  await writers;
  finalHead = (await catalog.resolve('r', 'main')).hash;
  await subscriber;
  return { got, start: start! };
}

async function check(s: Scenario, got: ChangeEvent[], start: Commit): Promise<void> {
  const expected = await expectedEvents(s.fx.catalog, 'r', 'main', start.generation);
  // `start` is read once a tenth of the commits are counted done, but other writers may have landed a
  // commit or more they have not counted yet (they count after publishing): every commit after `start`
  // (root + one create per table before the writers' commits) is expected, however many that is.
  const landedAtStart = start.generation - TABLES.length;
  expect(landedAtStart).toBeGreaterThanOrEqual(Math.floor(s.commits / 10));
  expect(expected.length).toBe(s.commits - landedAtStart);
  // Exactly once, in commit order: same sequence, nothing more, nothing twice.
  expect(new Set(ids(got)).size).toBe(got.length);
  expect(ids(got)).toEqual(ids(expected));
  // The bus holds each (txn, table) once despite the republishes: creates + every commit.
  expect(await s.bus.lastSeq()).toBe(TABLES.length + s.commits);
}

async function scenarioOn(makeBus: () => Promise<ChangeBus>, mode: Mode, seed: number, commits: number, at?: (fx: CatalogFixture) => Scenario['at']): Promise<void> {
  const fx = await embeddedCatalog();
  const bus = await makeBus();
  try {
    const changelog = new Changelog({ catalog: fx.catalog, bus, cursors: new MemoryCursorStore() });
    await fx.catalog.createRepo('r');
    for (const t of TABLES) await changelog.publishCommit('r', 'main', (await fx.catalog.createTable('r', t, { schema, primaryKey: ['id'] })).commit);
    const s: Scenario = { commits, fx, bus, changelog };
    const atStep = at?.(fx);
    if (atStep) s.at = atStep;
    const { got, start } = await runScenario(s, mode, seed);
    await check(s, got, start);
  } finally {
    await bus.close();
    await fx.cleanup();
  }
}

// The catalog makes ~10 commits/s here, so with NATS present the embedded-bus runs (same logic, other bus) are shorter.
const EMBEDDED_COMMITS = url ? Math.min(COMMITS, 200) : COMMITS;

describe(`exactly-once delivery of commits from ${WRITERS} concurrent writers`, () => {
  it(`embedded bus (${EMBEDDED_COMMITS} commits): a subscriber starting mid-way from an old commit`, () => scenarioOn(() => EmbeddedChangeBus.open(), 'plain', 11, EMBEDDED_COMMITS), 600_000);
  it(`embedded bus (${EMBEDDED_COMMITS} commits): a subscriber killed and resumed through its durable cursor`, () => scenarioOn(() => EmbeddedChangeBus.open(), 'killed', 12, EMBEDDED_COMMITS), 600_000);

  describe.skipIf(!url)('on nats-server', () => {
    const streams: string[] = [];
    let n = 0;
    const natsBus = (servers: string) => async (): Promise<ChangeBus> => {
      const stream = `CHG_EO_${process.pid}_${++n}_${Date.now()}`;
      streams.push(stream);
      return NatsChangeBus.connect({ servers, stream, subjectPrefix: `armeo${process.pid}x${n}` });
    };
    afterAll(async () => {
      const nc = await connect({ servers: url! });
      const jsm = await jetstreamManager(nc);
      for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
      await nc.close();
    });

    it(`${COMMITS} commits: a subscriber starting mid-way from an old commit`, () => scenarioOn(natsBus(url!), 'plain', 21, COMMITS), 600_000);
    it(`${COMMITS} commits: a subscriber killed and resumed through its durable cursor`, () => scenarioOn(natsBus(url!), 'killed', 22, COMMITS), 600_000);
    it(`${COMMITS} commits: nats-server restarted while writers publish and the subscriber follows`, async () => {
      const nats = await NatsProcess.start();
      try {
        await scenarioOn(natsBus(nats.url), 'plain', 23, COMMITS, () => ({
          commits: Math.floor(COMMITS / 2),
          action: async () => {
            await nats.stop();
            await sleep(300);
            await nats.startAgain();
          },
        }));
      } finally {
        await nats.destroy();
      }
    }, 600_000);
  });
});
