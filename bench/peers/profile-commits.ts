/**
 * Where a small Armillaria commit spends its time (the workload-3 loss): N appends of 100 rows to an
 * embedded table, with counts of the objects and bytes each commit writes. Run under a profiler:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=@armillaria/source --import tsx peers/profile-commits.ts
 *   python3 peers/top_self.py /tmp/prof/*.cpuprofile
 * PROFILE_COMMITS (default 200). PROFILE_MODE=distributed measures MinIO + Redis instead (started through the
 * testkit unless ARMILLARIA_S3_ENDPOINT / ARMILLARIA_REDIS_URL name running ones).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Int64, Table, vectorFromArray } from 'apache-arrow';
import { startServices, stopServices } from '@armillaria/testkit';
import { REPO, dirBytes, openSystem, type Mode } from './armillaria-system.js';

const commits = Number.parseInt(process.env.PROFILE_COMMITS ?? '200', 10);
const dir = await mkdtemp(join(tmpdir(), 'peers-profile-'));
const mode: Mode = process.env.PROFILE_MODE === 'distributed' ? 'distributed' : 'embedded';
if (mode === 'distributed') await startServices({ services: ['s3', 'redis'] });
const sys = await openSystem(mode, dir);
const batch = (i: number): Table => new Table({ id: vectorFromArray(Array.from({ length: 100 }, (_, j) => BigInt(i * 100 + j)), new Int64()) });
await sys.catalog.createTable(REPO, 'events', { rows: batch(0) });
const objectsBefore = await sys.storageBytes();
const lat: number[] = [];
const t0 = performance.now();
for (let i = 1; i <= commits; i++) {
  const t = performance.now();
  await sys.catalog.append(REPO, 'events', batch(i));
  lat.push(performance.now() - t);
}
const secs = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const pct = (q: number): string => (lat[Math.min(lat.length - 1, Math.floor(lat.length * q))] as number).toFixed(2);
const bytes = (await sys.storageBytes()) - objectsBefore;
const tv = await sys.catalog.tableVersion(REPO, 'events');
console.log(`${commits} commits in ${secs.toFixed(2)} s (${(commits / secs).toFixed(1)}/s); ${(bytes / commits / 1024).toFixed(1)} KiB of objects per commit; version ${tv.version}`);
console.log(`${mode}: commit p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, p99 ${pct(0.99)} ms`);
if (mode === 'embedded') console.log(`refs dir ${(await dirBytes(join(dir, 'refs'))) / 1024} KiB`);
// What one more commit writes: every new object's size (data chunk, manifest pages, tree, commit, indexes).
const seen = new Set<string>();
for await (const o of sys.objects.list('')) seen.add(o.key);
await sys.catalog.append(REPO, 'events', batch(commits + 1));
const added: number[] = [];
for await (const o of sys.objects.list('')) if (!seen.has(o.key)) added.push(o.size);
console.log(`one more commit wrote ${added.length} objects: ${added.sort((a, b) => b - a).map((b) => `${(b / 1024).toFixed(1)} KiB`).join(', ')}`);
await sys.close();
await rm(dir, { recursive: true, force: true });
if (mode === 'distributed') await stopServices();
