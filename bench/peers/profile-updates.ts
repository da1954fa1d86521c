/**
 * Where Armillaria's random-key updates spend their time (the workload-4 loss): the peers' 1M orders
 * rows ingested, then PROFILE_ROUNDS (default 10) upserts of 1% random keys each, timed one by one
 * with the delta's size after each. Run under a profiler:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=@armillaria/source --import tsx peers/profile-updates.ts <data dir>
 *   python3 peers/top_self.py /tmp/prof/*.cpuprofile
 * <data dir>: the generated peers data (~/.cache/armillaria/peers-data/1000000 after a peers run).
 * PROFILE_MODE=distributed runs on MinIO + Redis (started through the testkit unless ARMILLARIA_S3_ENDPOINT /
 * ARMILLARIA_REDIS_URL name running ones). Then scans of the updated table through the query engine: through the merge view, and from the
 * version's compacted file once the background compaction the first full scan starts has finished.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tableFromIPC, type Table } from 'apache-arrow';
import { startServices, stopServices } from '@armillaria/testkit';
import { REPO, openSystem } from './armillaria-system.js';

const data = process.argv[2];
if (!data) throw new Error('usage: profile-updates.ts <peers data dir>');
const rounds = Number.parseInt(process.env.PROFILE_ROUNDS ?? '10', 10);
const read = async (name: string): Promise<Table> => tableFromIPC(await readFile(join(data, name)));
const dir = await mkdtemp(join(tmpdir(), 'peers-profile-'));
const mode = process.env.PROFILE_MODE === 'distributed' ? 'distributed' : 'embedded';
const services = mode === 'distributed' ? await startServices({ services: ['s3', 'redis'] }) : undefined;
const sys = await openSystem(mode, dir);
await sys.catalog.createTable(REPO, 'orders', { rows: await read('orders.arrow'), primaryKey: ['order_id'] });
const before = await sys.storageBytes();
const profileOut = process.env.PROFILE_OUT;
const session = profileOut ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
}
let total = 0;
for (let r = 0; r < rounds; r++) {
  const upd = await read(`updates-${r}.arrow`);
  const t = performance.now();
  await sys.catalog.upsert(REPO, 'orders', upd);
  const ms = performance.now() - t;
  total += ms;
  const d = await sys.catalog.describeTable(REPO, 'orders');
  console.log(`round ${r}: ${ms.toFixed(1)} ms, ${upd.numRows} rows; delta ${d.pending?.rows ?? 0} rows, base ${d.chunks} chunks, ${(d.bytes / 2 ** 20).toFixed(2)} MiB`);
}
if (session && profileOut) {
  const { profile } = await session.post('Profiler.stop');
  await writeFile(profileOut, JSON.stringify(profile));
  session.disconnect();
}
console.log(`${rounds} rounds in ${(total / 1000).toFixed(3)} s; ${(((await sys.storageBytes()) - before) / 2 ** 20).toFixed(2)} MiB written`);
const scans = ['SELECT count(*) AS n, sum(amount) AS s, avg(quantity) AS q FROM orders', 'SELECT count(*) AS n, sum(amount) AS s FROM orders WHERE order_id BETWEEN 370000 AND 379999'];
for (const sql of scans) {
  const first = performance.now();
  const view = await sys.engine.query(REPO, sql);
  const firstMs = performance.now() - first;
  await sys.engine.idle();
  const times: number[] = [];
  let compacted = false;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    compacted = (await sys.engine.query(REPO, sql)).tables[0]!.compacted;
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`${sql}: first ${firstMs.toFixed(1)} ms (compacted ${view.tables[0]!.compacted}), then median ${times[2]!.toFixed(1)} ms (compacted ${compacted})`);
}
await sys.close();
if (services && services.started.length > 0) await stopServices();
await rm(dir, { recursive: true, force: true });
