import { spawn, type ChildProcess } from 'node:child_process';
import { access, cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep } from '@armillaria/core';
import { FsRefStore, type ReflogEntry } from '../src/index.js';

const hash0 = '0'.repeat(64);
const hashOf = (n: number): string => n.toString(16).padStart(64, '0');

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..');
const catalogEntry = pathToFileURL(resolve(repoRoot, 'packages/catalog/src/index.ts')).href;

// Each child increments the counter held in one ref `count` times, retrying on REF_CONFLICT; an absent ref
// counts as 0. It prints how many conflicts it met. Children start together: each announces itself with a
// ready file and waits for the go file, so they contend from the first increment.
const WORKER = `
import { access, writeFile } from 'node:fs/promises';
const { FsRefStore } = await import(${JSON.stringify(catalogEntry)});
const [root, ref, count, id] = process.argv.slice(1);
const refs = new FsRefStore({ root });
await writeFile(root + '/ready-' + id, '');
for (;;) {
  try { await access(root + '/go'); break; } catch { await new Promise((r) => setTimeout(r, 5)); }
}
const hash = (n) => n.toString(16).padStart(64, '0');
let done = 0, conflicts = 0;
while (done < Number(count)) {
  const current = await refs.get(ref);
  const n = current === undefined ? 0 : parseInt(current, 16);
  try {
    await refs.compareAndSwap(ref, current ?? null, hash(n + 1), { author: id });
    done++;
  } catch (err) {
    if (err?.code !== 'REF_CONFLICT') throw err;
    conflicts++;
  }
}
await refs.close();
process.stdout.write(JSON.stringify({ id, done, conflicts }));
`;

function startWorker(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--conditions=@armillaria/source', '--import', 'tsx', '--input-type=module', '-e', WORKER, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function runWorker(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = startWorker(args);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('FsRefStore across processes', () => {
  it('loses no update when 4 processes each make 50 CAS increments on one ref', async () => {
    const root = await mkdtemp(join(tmpdir(), 'armillaria-refs-procs-'));
    dirs.push(root);
    const ref = 'repos/procs/branches/main';
    const running = Promise.all([0, 1, 2, 3].map((i) => runWorker([root, ref, '50', `proc-${i}`])));
    // Release the children once all four are loaded (or one has already died: the result shows why).
    let settled = false;
    void running.finally(() => (settled = true));
    while (!settled && (await readdir(root)).filter((f) => f.startsWith('ready-')).length < 4) await sleep(10);
    await writeFile(join(root, 'go'), '');
    const results = await running;
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const reports = results.map((r) => JSON.parse(r.stdout) as { id: string; done: number; conflicts: number });
    // Not an assertion: how often the processes collided, for the curious.
    console.log(`4 processes x 50 increments: ${reports.map((r) => `${r.id} ${r.conflicts} conflicts`).join(', ')}`);

    const refs = new FsRefStore({ root });
    expect(parseInt((await refs.get(ref)) ?? '', 16)).toBe(200);
    const log = await refs.reflog(ref);
    expect(log).toHaveLength(200);
    expect(log.map((e) => (e.new === null ? NaN : parseInt(e.new, 16)))).toEqual(Array.from({ length: 200 }, (_, i) => 200 - i));
    for (let i = 0; i + 1 < log.length; i++) expect(log[i]?.old).toBe(log[i + 1]?.new);
    expect(log.at(-1)?.old).toBeNull();
    const byAuthor = new Map<string, number>();
    for (const e of log) byAuthor.set(e.author ?? '', (byAuthor.get(e.author ?? '') ?? 0) + 1);
    expect(Object.fromEntries(byAuthor)).toEqual({ 'proc-0': 50, 'proc-1': 50, 'proc-2': 50, 'proc-3': 50 });
  });
  it('recovers after writers are SIGKILLed mid-increment: no stuck lock, no lost or phantom update', async () => {
    const root = await mkdtemp(join(tmpdir(), 'armillaria-refs-crash-'));
    dirs.push(root);
    const ref = 'repos/crash/branches/main';
    const lockPath = join(root, 'refs.lock');
    await writeFile(join(root, 'go'), '');
    const refs = new FsRefStore({ root, lock: { timeoutMs: 10_000 } });
    const value = async (): Promise<number> => parseInt((await refs.get(ref)) ?? hash0, 16);
    let locksLeft = 0;
    for (let round = 1; round <= 3; round++) {
      const child = startWorker([root, ref, '1000000000', `crash-${round}`]);
      const exited = new Promise((r) => child.on('close', r));
      const target = (await value()) + 15;
      while ((await value()) < target && child.exitCode === null) await sleep(5);
      child.kill('SIGKILL');
      await exited;
      if (await access(lockPath).then(() => true, () => false)) locksLeft++;
      // The dead writer's lock (if it held one) must not block us: a CAS from here goes through.
      const before = await value();
      await refs.compareAndSwap(ref, hashOf(before), hashOf(before + 1), { author: 'parent' });
      expect(await value()).toBe(before + 1);
    }
    console.log(`3 SIGKILLed writers left their lock behind ${locksLeft} time(s); each was broken`);

    // The reflog is one unbroken chain ending at the current value; a kill between the value's rename and
    // the log append can lose that one line (the chain then skips one step), never invent a move.
    const final = await value();
    const log = await refs.reflog(ref);
    expect(log[0]?.new).toBe(hashOf(final));
    let gaps = 0;
    for (let i = 0; i + 1 < log.length; i++) {
      const newer = log[i] as ReflogEntry;
      const older = log[i + 1] as ReflogEntry;
      expect(parseInt(newer.new ?? '', 16)).toBe(parseInt(newer.old ?? hash0, 16) + 1);
      if (newer.old !== older.new) gaps++;
    }
    expect(gaps).toBeLessThanOrEqual(3);
    expect(log.length + gaps).toBe(final);
  });
});

// Opens the store (which migrates a layout-1 tree under the lock) once the parent says go, then reports.
const MIGRATOR = `
import { access, writeFile } from 'node:fs/promises';
const { FsRefStore } = await import(${JSON.stringify(catalogEntry)});
const [root] = process.argv.slice(1);
await writeFile(root + '/../ready', '');
for (;;) {
  try { await access(root + '/../go'); break; } catch { await new Promise((r) => setImmediate(r)); }
}
const refs = new FsRefStore({ root });
await refs.get('x');
process.stdout.write('migrated');
`;

describe('FsRefStore layout-1 migration', () => {
  it('leaves either the old tree or a complete log when the migrating process is SIGKILLed at any point', async () => {
    const base = await mkdtemp(join(tmpdir(), 'armillaria-refs-migrate-'));
    dirs.push(base);
    // A layout-1 tree: 400 refs, each with a value file and a two-line reflog.
    const N = 400;
    const template = join(base, 'template');
    for (let i = 0; i < N; i++) {
      const dir = join(template, 'refs', 'repos', `r${i % 7}`, 'branches', `b${i}`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, '~ref'), `${hashOf(i + 2)}\n`);
      const lines = [{ old: null, new: hashOf(i + 1), time: 1000 + i }, { old: hashOf(i + 1), new: hashOf(i + 2), time: 2000 + i, message: `m${i}` }];
      await writeFile(join(dir, '~log'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    }
    const outcomes: string[] = [];
    for (const delay of [0, 10, 40, 100, 200, 300, 450, 700, 1000]) {
      const round = join(base, `round-${delay}`);
      await cp(template, join(round, 'root'), { recursive: true });
      const root = join(round, 'root');
      const child = spawn(process.execPath, ['--conditions=@armillaria/source', '--import', 'tsx', '--input-type=module', '-e', MIGRATOR, root], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise((r) => child.on('close', r));
      while (!(await access(join(round, 'ready')).then(() => true, () => false)) && child.exitCode === null) await sleep(5);
      await writeFile(join(round, 'go'), '');
      await sleep(delay);
      child.kill('SIGKILL');
      await exited;
      outcomes.push(stdout === 'migrated' ? 'finished' : (await readdir(root)).includes('refs.log') ? 'log in place' : 'killed before the rename');

      // Whatever the child got to, a new store sees exactly the old refs and reflogs.
      const refs = new FsRefStore({ root, lock: { timeoutMs: 10_000 } });
      const listed = await refs.list('repos/');
      expect(listed).toHaveLength(N);
      for (const i of [0, 1, 57, N - 1]) {
        const name = `repos/r${i % 7}/branches/b${i}`;
        expect(await refs.get(name)).toBe(hashOf(i + 2));
        expect((await refs.reflog(name)).map((e) => [e.time, e.new, e.message])).toEqual([[2000 + i, hashOf(i + 2), `m${i}`], [1000 + i, hashOf(i + 1), undefined]]);
      }
      // A write breaks a lock the child may have died holding, and sweeps its half-written log.
      await refs.compareAndSwap('repos/r0/branches/b0', hashOf(2), hashOf(999));
      await refs.close(); // returns once the lock is released (a CAS returns as soon as its record is durable)
      expect((await readdir(root)).filter((f) => f.startsWith('refs.')).sort()).toEqual(['refs.log']);
    }
    console.log(`migration killed after 0-1000 ms: ${outcomes.join(', ')}`);
  });
});
