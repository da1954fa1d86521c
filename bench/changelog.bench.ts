/**
 * `npm run bench:changelog`: the changelog on a real nats-server (started by the test harness when
 * ARMILLARIA_NATS_URL is not set), next to raw JetStream measured in the same run:
 *
 * 1. raw JetStream: publish one message (awaiting its ack) -> an ordered consumer receives it;
 *    latency p50/p99 and burst messages/s, messages the size of a change event.
 * 2. changelog live path: NatsChangeBus.publish of a commit's events -> Changelog.subscribe yields
 *    them (the subscription checks order, gaps and duplicates); same message count and size. Events
 *    are chained after the real branch head, as the coordinator publishes them (computed at PREPARE).
 * 3. commit-to-subscriber with real catalog commits: from the catalog commit returning, through
 *    commitEvents + publish, to the subscriber (the catalog's own commit time is reported apart).
 * 4. replay from the catalog (events/s) and row-level records/s (commitEvents with rows).
 *
 * Sizes: ARMILLARIA_BENCH_CHANGELOG_EVENTS (default 2000), ARMILLARIA_BENCH_CHANGELOG_COMMITS
 * (default 150), ARMILLARIA_BENCH_CHANGELOG_ROWS (default 100000).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { MemoryObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat, type Commit } from '@armillaria/catalog';
import { Changelog, NatsChangeBus, commitEvents, type ChangeEvent } from '@armillaria/changelog';
import { startServices, stopServices } from '@armillaria/testkit';
import { envInt, printTable } from './bench-util.js';

const EVENTS = envInt('ARMILLARIA_BENCH_CHANGELOG_EVENTS', 2000);
const COMMITS = envInt('ARMILLARIA_BENCH_CHANGELOG_COMMITS', 150);
const ROWS = envInt('ARMILLARIA_BENCH_CHANGELOG_ROWS', 100_000);

const services = process.env.ARMILLARIA_NATS_URL ? undefined : await startServices({ services: ['nats'] });
const url = process.env.ARMILLARIA_NATS_URL as string;
const run = `${process.pid}_${Date.now()}`;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
function stats(lat: number[]): { p50: number; p99: number } {
  const s = [...lat].sort((a, b) => a - b);
  return { p50: pct(s, 50), p99: pct(s, 99) };
}
const fakeHash = (n: number): string => n.toString(16).padStart(64, '0');

// --- catalog and a real event (its size is the message size everywhere) --------------------------
const dir = await mkdtemp(join(tmpdir(), 'armillaria-bench-changelog-'));
const chunks = new ObjectChunkStore({ objects: new MemoryObjectStore(), hasher: await loadHasher() });
const catalog = new Catalog({ chunks, refs: new FsRefStore({ root: join(dir, 'refs') }), format: new ParquetTableFormat({ chunks }) });
await catalog.createRepo('r');
const schema = { fields: [{ name: 'id', type: 'int64' as const }, { name: 'v', type: 'utf8' as const }, { name: 'n', type: 'float64' as const }] };
await catalog.createTable('r', 't', { schema, primaryKey: ['id'] });
const sample = (await commitEvents(catalog, 'r', 'main', (await catalog.upsert('r', 't', [{ id: 1, v: 'x', n: 1 }])).commit))[0] as ChangeEvent;
const payloadBytes = JSON.stringify(sample).length;

// --- 1. raw JetStream -----------------------------------------------------------------------------
async function rawJetStream(): Promise<{ p50: number; p99: number; perSec: number }> {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const stream = `BENCH_RAW_${run}`;
  await jsm.streams.add({ name: stream, subjects: [`benchraw${run}.>`] });
  try {
    const consumer = await js.consumers.get(stream, { filter_subjects: `benchraw${run}.x`, deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 256 });
    const it = messages[Symbol.asyncIterator]();
    const payload = 'x'.repeat(payloadBytes);
    const lat: number[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const t0 = performance.now();
      await js.publish(`benchraw${run}.x`, payload, { msgID: `raw-${i}` });
      await it.next();
      lat.push(performance.now() - t0);
    }
    // Burst: publish everything pipelined, count until the consumer has all.
    const t0 = performance.now();
    const acks = Array.from({ length: EVENTS }, (_, i) => js.publish(`benchraw${run}.x`, payload, { msgID: `burst-${i}` }));
    for (let i = 0; i < EVENTS; i++) await it.next();
    await Promise.all(acks);
    const perSec = EVENTS / ((performance.now() - t0) / 1000);
    messages.stop();
    return { ...stats(lat), perSec };
  } finally {
    await jsm.streams.delete(stream);
    await nc.close();
  }
}

// --- 2. changelog live path -------------------------------------------------------------------------
async function changelogLive(): Promise<{ p50: number; p99: number; perSec: number }> {
  const stream = `BENCH_CHG_${run}`;
  const bus = await NatsChangeBus.connect({ servers: url, stream, subjectPrefix: `benchchg${run}` });
  try {
    const changelog = new Changelog({ catalog, bus });
    const head = await catalog.resolve('r', 'main');
    const it = changelog.subscribe({ repo: 'r', branch: 'main', from: 'latest' })[Symbol.asyncIterator]();
    let parent = head.hash;
    let seq = head.generation;
    const next = (): ChangeEvent => {
      const commit = fakeHash(1_000_000 + seq);
      const e: ChangeEvent = { ...sample, commit, parent, seq: seq + 1, txnId: `bench-${run}-${seq}`, commitTables: ['t'] };
      parent = commit;
      seq++;
      return e;
    };
    const first = it.next();
    await new Promise((r) => setTimeout(r, 300));
    const lat: number[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const t0 = performance.now();
      await bus.publish([next()]);
      await (i === 0 ? first : it.next());
      lat.push(performance.now() - t0);
    }
    const t0 = performance.now();
    const burst = Array.from({ length: EVENTS }, () => next());
    const acks = Promise.all(Array.from({ length: EVENTS / 100 }, (_, i) => bus.publish(burst.slice(i * 100, i * 100 + 100))));
    for (let i = 0; i < EVENTS; i++) {
      const r = await it.next();
      if (r.value.commit !== burst[i]!.commit) throw new Error(`out of order at ${i}`);
    }
    await acks;
    const perSec = EVENTS / ((performance.now() - t0) / 1000);
    await it.return?.();
    return { ...stats(lat), perSec };
  } finally {
    await bus.close();
    const nc = await connect({ servers: url });
    await (await jetstreamManager(nc)).streams.delete(stream);
    await nc.close();
  }
}

// --- 3. real commits ---------------------------------------------------------------------------------
async function realCommits(): Promise<{ p50: number; p99: number; commitMs: number; replayPerSec: number }> {
  const stream = `BENCH_COMMITS_${run}`;
  const bus = await NatsChangeBus.connect({ servers: url, stream, subjectPrefix: `benchcommit${run}` });
  try {
    const changelog = new Changelog({ catalog, bus });
    const start = await catalog.resolve('r', 'main');
    const it = changelog.subscribe({ repo: 'r', branch: 'main', from: 'latest' })[Symbol.asyncIterator]();
    let pending = it.next();
    await new Promise((r) => setTimeout(r, 300));
    const lat: number[] = [];
    let commitMs = 0;
    for (let i = 0; i < COMMITS; i++) {
      const c0 = performance.now();
      const res = await catalog.upsert('r', 't', [{ id: 10 + i, v: `v${i}`, n: i }]);
      const t0 = performance.now();
      commitMs += t0 - c0;
      await changelog.publishCommit('r', 'main', res.commit as Commit);
      const got = await pending;
      if (got.value.commit !== res.commit.hash) throw new Error('wrong event');
      lat.push(performance.now() - t0);
      pending = it.next();
    }
    void it.return?.();
    // Replay the same commits from the catalog.
    const r0 = performance.now();
    let n = 0;
    for await (const e of changelog.subscribe({ repo: 'r', branch: 'main', from: { commit: start.hash } })) {
      n++;
      if (n === COMMITS) break;
      void e;
    }
    const replayPerSec = n / ((performance.now() - r0) / 1000);
    return { ...stats(lat), commitMs: commitMs / COMMITS, replayPerSec };
  } finally {
    await bus.close();
    const nc = await connect({ servers: url });
    await (await jetstreamManager(nc)).streams.delete(stream);
    await nc.close();
  }
}

// --- 4. row records -------------------------------------------------------------------------------
async function rowRecords(): Promise<Array<[string, number, number]>> {
  await catalog.createTable('r', 'big', { schema, primaryKey: ['id'], rows: Array.from({ length: ROWS }, (_, i) => ({ id: i, v: `row-${i}`, n: i })) });
  const out: Array<[string, number, number]> = [];
  const changed = Math.floor(ROWS / 5);
  const up = await catalog.upsert('r', 'big', Array.from({ length: changed }, (_, i) => ({ id: i * 5, v: `changed-${i}`, n: -i })));
  const ins = await catalog.append('r', 'big', Array.from({ length: changed }, (_, i) => ({ id: ROWS + i, v: `new-${i}`, n: i })));
  for (const [label, commit] of [['update 20% of rows', up.commit], ['insert 20% more rows', ins.commit]] as const) {
    let best = Number.POSITIVE_INFINITY;
    let records = 0;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const [e] = await commitEvents(catalog, 'r', 'main', commit, { rows: true });
      best = Math.min(best, performance.now() - t0);
      records = e?.rows?.length ?? 0;
    }
    out.push([label, records, records / (best / 1000)]);
  }
  return out;
}

try {
  const raw = await rawJetStream();
  const live = await changelogLive();
  const real = await realCommits();
  const rows = await rowRecords();
  printTable(`Changelog on nats-server (${EVENTS} messages of ${payloadBytes} bytes; ${COMMITS} real commits)`, ['path', 'p50 ms', 'p99 ms', 'events/s', 'p99 / raw p99'], [
    ['raw JetStream publish -> ordered consumer', raw.p50, raw.p99, raw.perSec, 1],
    ['changelog publish -> subscribe (live)', live.p50, live.p99, live.perSec, live.p99 / raw.p99],
    ['commit returned -> commitEvents + publish -> subscriber', real.p50, real.p99, '-', real.p99 / raw.p99],
    ['replay from the catalog (commit events)', '-', '-', real.replayPerSec, '-'],
  ]);
  console.log(`\n(catalog upsert itself: ${real.commitMs.toFixed(1)} ms per commit, not included above)`);
  printTable(`Row-level records (commitEvents with rows, best of 3; table of ${ROWS} rows)`, ['change', 'records', 'records/s'], rows);
} finally {
  await catalog.close();
  await rm(dir, { recursive: true, force: true });
  if (services) await stopServices();
}
