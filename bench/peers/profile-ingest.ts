/**
 * Where Armillaria's ingest and 1% upsert rounds spend their time (workloads 1 and 4): the bench's
 * orders data, embedded. Run under a profiler:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof-ingest --conditions=@armillaria/source --import tsx peers/profile-ingest.ts <data dir>
 *   python3 peers/top_self.py /tmp/prof-ingest/<main>.cpuprofile
 * <data dir>: ~/.cache/armillaria/peers-data/<rows> (gen_data.py). Prints phase times and chunk counts.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tableFromIPC } from 'apache-arrow';
import { REPO, openSystem } from './armillaria-system.js';

const data = process.argv[2] as string;
const dir = await mkdtemp(join(tmpdir(), 'peers-profile-ingest-'));
const sys = await openSystem('embedded', dir);
const orders = tableFromIPC(readFileSync(join(data, 'orders.arrow')));
let t0 = performance.now();
const created = await sys.catalog.createTable(REPO, 'orders', { rows: orders, primaryKey: ['order_id'] });
console.log(`ingest ${orders.numRows} rows: ${((performance.now() - t0) / 1000).toFixed(2)} s, ${created.chunksWritten ?? '?'} chunks written`);
for (let r = 0; r < 2; r++) {
  const upd = tableFromIPC(readFileSync(join(data, `updates-${r}.arrow`)));
  t0 = performance.now();
  const res = await sys.catalog.upsert(REPO, 'orders', upd);
  console.log(`upsert round ${r} (${upd.numRows} keys): ${((performance.now() - t0) / 1000).toFixed(2)} s, chunks written ${res.chunksWritten ?? '?'}, reused ${res.chunksReused ?? '?'}`);
}
await sys.close();
await rm(dir, { recursive: true, force: true });
