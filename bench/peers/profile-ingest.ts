/**
 * Where Armillaria's ingest spends its time (workload 1): the bench's orders data, embedded (the upsert
 * rounds of workload 4: profile-updates.ts). Run under a profiler:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof-ingest --conditions=@armillaria/source --import tsx peers/profile-ingest.ts <data dir>
 *   python3 peers/top_self.py /tmp/prof-ingest/<main>.cpuprofile
 * <data dir>: ~/.cache/armillaria/peers-data/<rows> (gen_data.py). Prints the ingest time and chunks written.
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
const t0 = performance.now();
const created = await sys.catalog.createTable(REPO, 'orders', { rows: orders, primaryKey: ['order_id'] });
console.log(`ingest ${orders.numRows} rows: ${((performance.now() - t0) / 1000).toFixed(2)} s, ${created.chunksWritten ?? '?'} chunks written`);
await sys.close();
await rm(dir, { recursive: true, force: true });
