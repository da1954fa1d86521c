import { spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArmillariaError } from '@armillaria/core';
import { FsRefStore } from '../src/index.js';
import { hashOf, refStoreContract } from './ref-store.contract.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'armillaria-fs-refs-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

refStoreContract('fs', async () => new FsRefStore({ root: await tempDir() }), {
  // A root below a regular file: every filesystem call fails, so only validation can answer INVALID_NAME.
  unreachable: {
    factory: async () => {
      const file = join(await tempDir(), 'not-a-dir');
      await writeFile(file, 'x');
      return new FsRefStore({ root: join(file, 'root') });
    },
  },
});

describe('FsRefStore on disk', () => {
  it('keeps refs and reflogs across store instances', async () => {
    const root = await tempDir();
    const a = new FsRefStore({ root });
    await a.compareAndSwap('repos/r/branches/main', null, hashOf(1), { message: 'init' });
    await a.close();
    const b = new FsRefStore({ root });
    expect(await b.get('repos/r/branches/main')).toBe(hashOf(1));
    expect(await b.list('repos/')).toEqual([{ name: 'repos/r/branches/main', value: hashOf(1) }]);
    expect((await b.reflog('repos/r/branches/main'))[0]).toMatchObject({ new: hashOf(1), message: 'init' });
    // One file per ref under the root, holding the hash; no temp or lock files left behind.
    const dir = join(root, 'refs', 'repos', 'r', 'branches', 'main');
    expect((await readFile(join(dir, '~ref'), 'utf8')).trim()).toBe(hashOf(1));
    expect((await readdir(dir)).sort()).toEqual(['~log', '~ref']);
  });

  it('breaks a lock left by a dead process', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root });
    await refs.compareAndSwap('r', null, hashOf(1));
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    expect(pid).toBeGreaterThan(0);
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
    await writeFile(join(root, 'refs', 'r', '~lock'), JSON.stringify({ host: hostname(), boot, pid, token: 'dead', time: Date.now() }));
    // What a writer killed mid-CAS leaves besides its lock: a half-written value and a lock temp file.
    await writeFile(join(root, 'refs', 'r', `~tmp-${pid}-0c0ffee0`), '00');
    await writeFile(join(root, 'refs', 'r', `~lock.${pid}.0c0ffee0`), '{}');
    await refs.compareAndSwap('r', hashOf(1), hashOf(2));
    expect(await refs.get('r')).toBe(hashOf(2));
    expect((await readdir(join(root, 'refs', 'r'))).sort()).toEqual(['~log', '~ref']);
  });

  it('waits for a live holder and fails with BACKEND_UNAVAILABLE when it never lets go', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root, lock: { timeoutMs: 300 } });
    await refs.compareAndSwap('r', null, hashOf(1));
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
    const lock = join(root, 'refs', 'r', '~lock');
    await writeFile(lock, JSON.stringify({ host: hostname(), boot, pid: process.pid, token: 'live', time: Date.now() }));
    const err = await refs.compareAndSwap('r', hashOf(1), hashOf(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArmillariaError);
    expect((err as ArmillariaError).code).toBe('BACKEND_UNAVAILABLE');
    expect(await refs.get('r')).toBe(hashOf(1));
    // The holder's lock is untouched; once it is gone the ref moves.
    expect(JSON.parse(await readFile(lock, 'utf8')).token).toBe('live');
    await rm(lock);
    await refs.compareAndSwap('r', hashOf(1), hashOf(2));
  });

  it('treats a lock older than staleMs as stale even when its pid is alive', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root, lock: { staleMs: 1, timeoutMs: 60_000 } });
    await refs.compareAndSwap('r', null, hashOf(1));
    await writeFile(join(root, 'refs', 'r', '~lock'), JSON.stringify({ host: 'other-host', boot: 'x', pid: 1, token: 'old', time: 0 }));
    // mtime of the lock file is what ages it; wait past staleMs (1 ms) by checking the clock, not by asserting time.
    const written = (await stat(join(root, 'refs', 'r', '~lock'))).mtimeMs;
    while (Date.now() <= written + 2) await new Promise((r) => setTimeout(r, 2));
    await refs.compareAndSwap('r', hashOf(1), hashOf(2));
    expect(await refs.get('r')).toBe(hashOf(2));
  });

  it('survives a torn last reflog line (crash mid-append)', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root });
    await refs.compareAndSwap('r', null, hashOf(1), { time: 10 });
    await appendFile(join(root, 'refs', 'r', '~log'), '{"new":"00');
    await refs.compareAndSwap('r', hashOf(1), hashOf(2), { time: 20 });
    expect((await refs.reflog('r')).map((e) => [e.time, e.new])).toEqual([[20, hashOf(2)], [10, hashOf(1)]]);
  });

  it('reads long reflogs backwards across block boundaries', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root });
    const n = 40;
    const message = (i: number) => `${i}:${'m'.repeat(9_000 + i * 97)}`; // lines of ~9-13 KB straddle 64 KB blocks
    await refs.compareAndSwap('r', null, hashOf(0), { time: 0, message: message(0) });
    for (let i = 1; i < n; i++) await refs.compareAndSwap('r', hashOf(i - 1), hashOf(i), { time: i * 10, message: message(i) });
    const all = await refs.reflog('r');
    expect(all.map((e) => e.time)).toEqual(Array.from({ length: n }, (_, i) => (n - 1 - i) * 10));
    expect(all.every((e) => e.message === message(e.time / 10))).toBe(true);
    expect((await refs.reflog('r', { before: 205, limit: 3 })).map((e) => e.time)).toEqual([200, 190, 180]);
  });

  it('answers before/limit on a large reflog the same as filtering the whole log', async () => {
    const root = await tempDir();
    const dir = join(root, 'refs', 'big');
    await mkdir(dir, { recursive: true });
    // 6000 entries (~1.5 MB: many 64 KB blocks), times rising with repeats, a few long lines and one torn line.
    const entries = Array.from({ length: 6000 }, (_, i) => ({
      old: i ? hashOf(i) : null, new: hashOf(i + 1), time: 1000 + Math.floor(i / 3) * 7,
      message: i % 997 === 0 ? 'L'.repeat(40_000) : `entry ${i}`,
    }));
    const lines = entries.map((e) => JSON.stringify(e));
    lines.splice(3000, 0, '{"old":null,"new":"00'); // a torn line left by a crash, then a fresh line
    await writeFile(join(dir, '~log'), `${lines.join('\n')}\n`);
    const refs = new FsRefStore({ root });
    const newestFirst = entries.map((e) => ({ name: 'big', ...e })).reverse();
    const all = await refs.reflog('big');
    expect(all).toEqual(newestFirst);
    for (const before of [0, 1000, 1001, 1007, 5000, 8000, 8001, 11_000, 14_993, 14_994, 20_000, 1e12]) {
      for (const limit of [1, 5, 50]) {
        const expected = newestFirst.filter((e) => e.time < before).slice(0, limit);
        expect(await refs.reflog('big', { before, limit }), `before ${before} limit ${limit}`).toEqual(expected);
      }
    }
  });

  it('does not list internal files or directories without a ref', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root });
    await mkdir(join(root, 'refs', 'empty', 'dir'), { recursive: true });
    await refs.compareAndSwap('x/y', null, hashOf(1));
    expect(await refs.list('')).toEqual([{ name: 'x/y', value: hashOf(1) }]);
  });

  it('reports a ref file that does not hold a hash as CORRUPT_METADATA', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root });
    await mkdir(join(root, 'refs', 'bad'), { recursive: true });
    await writeFile(join(root, 'refs', 'bad', '~ref'), 'not a hash\n');
    const err = await refs.get('bad').catch((e: unknown) => e);
    expect((err as ArmillariaError).code).toBe('CORRUPT_METADATA');
  });
});
