import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir, hostname } from 'node:os';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArmillariaError } from '@armillaria/core';
import { FsRefStore } from '../src/index.js';
import { hashOf, refStoreContract } from './ref-store.contract.js';

async function conflictCode(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'no error', (e: unknown) => (e instanceof ArmillariaError ? e.code : `untyped: ${String(e)}`));
}

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

/** Offset just past the last record of a ref log: records end in `}`, the preallocated rest is zeros. */
async function logEnd(root: string): Promise<{ bytes: Buffer; end: number }> {
  const bytes = await readFile(join(root, 'refs.log'));
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return { bytes, end };
}

describe('FsRefStore on disk', () => {
  it('keeps refs and reflogs across store instances in one preallocated log file', async () => {
    const root = await tempDir();
    const a = new FsRefStore({ root });
    await a.compareAndSwap('repos/r/branches/main', null, hashOf(1), { message: 'init' });
    await a.close();
    const b = new FsRefStore({ root });
    expect(await b.get('repos/r/branches/main')).toBe(hashOf(1));
    expect(await b.list('repos/')).toEqual([{ name: 'repos/r/branches/main', value: hashOf(1) }]);
    expect((await b.reflog('repos/r/branches/main'))[0]).toMatchObject({ new: hashOf(1), message: 'init' });
    // One log file under the root, zero-filled to a whole number of MiB; no temp or lock files left behind.
    expect(await readdir(root)).toEqual(['refs.log']);
    expect((await stat(join(root, 'refs.log'))).size % (1 << 20)).toBe(0);
  });

  it('sees the writes of another store instance (another process) made after it last read', async () => {
    const root = await tempDir();
    const a = new FsRefStore({ root });
    const b = new FsRefStore({ root });
    await a.compareAndSwap('x', null, hashOf(1));
    expect(await b.get('x')).toBe(hashOf(1));
    await b.compareAndSwap('x', hashOf(1), hashOf(2));
    await b.compareAndSwap('y', null, hashOf(3));
    expect(await a.get('x')).toBe(hashOf(2));
    expect(await a.list('')).toEqual([{ name: 'x', value: hashOf(2) }, { name: 'y', value: hashOf(3) }]);
    expect((await a.reflog('x')).map((e) => e.new)).toEqual([hashOf(2), hashOf(1)]);
    expect(await conflictCode(a.compareAndSwap('x', hashOf(1), hashOf(9)))).toBe('REF_CONFLICT');
  });

  it('answers reflogValue from its index and sees what another store instance appends, deletes and compacts', async () => {
    const root = await tempDir();
    const a = new FsRefStore({ root });
    const b = new FsRefStore({ root });
    const ref = 'repos/r/branches/main';
    await a.compareAndSwap(ref, null, hashOf(1), { time: 1000 });
    await a.compareAndSwap(ref, hashOf(1), hashOf(2), { time: 2000 });
    // b indexes both entries (its first value array is built from them) ...
    expect(await b.reflogValue(ref, 1500)).toEqual({ value: hashOf(1), time: 1000 });
    expect(await b.reflogValue(ref, Infinity)).toEqual({ value: hashOf(2), time: 2000 });
    // ... then a appends, moves the ref back to an earlier value and deletes it: b catches up before answering.
    await a.compareAndSwap(ref, hashOf(2), hashOf(3), { time: 3000 });
    await a.compareAndSwap(ref, hashOf(3), hashOf(1), { time: 4000 });
    await a.compareAndSwap(ref, hashOf(1), null, { time: 5000 });
    expect(await b.reflogValue(ref, 3500)).toEqual({ value: hashOf(3), time: 3000 });
    expect(await b.reflogValue(ref, 4500)).toEqual({ value: hashOf(1), time: 4000 });
    expect(await b.reflogValue(ref, Infinity)).toEqual({ value: null, time: 5000 });
    expect(await b.reflogValue(ref, 1500)).toEqual({ value: hashOf(1), time: 1000 });
    // b's own write lands in the index b answers from, and a sees it.
    await b.compareAndSwap(ref, null, hashOf(6), { time: 6000 });
    expect(await b.reflogValue(ref, Infinity)).toEqual({ value: hashOf(6), time: 6000 });
    expect(await a.reflogValue(ref, Infinity)).toEqual({ value: hashOf(6), time: 6000 });
    // a compacts: entries before 4500 go except the newest of them, and b, still on the old file, answers
    // from the new one (an answer from its old index would be hashOf(3) at 3000).
    expect(await a.expireReflog(4500)).toEqual({ entriesRemoved: 3, refsForgotten: 0 });
    expect(await b.reflogValue(ref, 3500)).toBeUndefined();
    expect(await b.reflogValue(ref, 4500)).toEqual({ value: hashOf(1), time: 4000 });
    expect(await b.reflogValue(ref, Infinity)).toEqual({ value: hashOf(6), time: 6000 });
    // A third instance opening the compacted log agrees.
    const c = new FsRefStore({ root });
    expect(await c.reflogValue(ref, 5500)).toEqual({ value: null, time: 5000 });
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('grows the log past its preallocation and reads it back whole', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root });
    const big = (i: number) => `${i}:${'x'.repeat(16_000)}`; // ~16 KB records: 1 MiB is full after ~64
    await refs.compareAndSwap('r', null, hashOf(0), { time: 0, message: big(0) });
    for (let i = 1; i < 150; i++) await refs.compareAndSwap('r', hashOf(i - 1), hashOf(i), { time: i, message: big(i) });
    expect((await stat(join(root, 'refs.log'))).size).toBeGreaterThanOrEqual(3 << 20);
    const fresh = new FsRefStore({ root });
    expect(await fresh.get('r')).toBe(hashOf(149));
    const log = await fresh.reflog('r');
    expect(log.map((e) => e.time)).toEqual(Array.from({ length: 150 }, (_, i) => 149 - i));
    expect(log.every((e) => e.message === big(e.time))).toBe(true);
  });

  it('breaks a lock left by a dead process and sweeps its debris', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root });
    await refs.compareAndSwap('r', null, hashOf(1));
    await refs.close(); // lets the store release its lock before one is planted (see the staleMs test)
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    expect(pid).toBeGreaterThan(0);
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
    await writeFile(join(root, 'refs.lock'), JSON.stringify({ host: hostname(), boot, pid, token: 'dead', time: Date.now() }));
    // What a process killed while holding the lock leaves besides it: a lock temp file, a half-written migration.
    await writeFile(join(root, `refs.lock.${pid}.0c0ffee0`), '{}');
    await writeFile(join(root, `refs.log.tmp-${pid}-0c0ffee0`), '00');
    await refs.compareAndSwap('r', hashOf(1), hashOf(2));
    expect(await refs.get('r')).toBe(hashOf(2));
    expect(await readdir(root)).toEqual(['refs.log']);
  });

  it('waits for a live holder and fails with BACKEND_UNAVAILABLE when it never lets go', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root, lock: { timeoutMs: 300 } });
    await refs.compareAndSwap('r', null, hashOf(1));
    await refs.close(); // lets the store release its lock before one is planted (see the staleMs test)
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
    const lock = join(root, 'refs.lock');
    await writeFile(lock, JSON.stringify({ host: hostname(), boot, pid: process.pid, token: 'live', time: Date.now() }));
    const err = await refs.compareAndSwap('r', hashOf(1), hashOf(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArmillariaError);
    expect((err as ArmillariaError).code).toBe('BACKEND_UNAVAILABLE');
    expect(await refs.get('r')).toBe(hashOf(1));
    // Reads do not take the lock.
    expect((await refs.reflog('r')).length).toBe(1);
    // The holder's lock is untouched; once it is gone the ref moves.
    expect(JSON.parse(await readFile(lock, 'utf8')).token).toBe('live');
    await rm(lock);
    await refs.compareAndSwap('r', hashOf(1), hashOf(2));
  });

  it('treats a lock older than staleMs as stale even when its pid is alive', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root, lock: { staleMs: 1, timeoutMs: 60_000 } });
    await refs.compareAndSwap('r', null, hashOf(1));
    // The CAS resolves inside the lock; wait for the store to release it, or its release could remove
    // the planted file (release reads its token, then unlinks).
    await refs.close();
    await writeFile(join(root, 'refs.lock'), JSON.stringify({ host: 'other-host', boot: 'x', pid: 1, token: 'old', time: 0 }));
    // mtime of the lock file is what ages it; wait past staleMs (1 ms) by checking the clock, not by asserting time.
    const written = (await stat(join(root, 'refs.lock'))).mtimeMs;
    while (Date.now() <= written + 2) await new Promise((r) => setTimeout(r, 2));
    await refs.compareAndSwap('r', hashOf(1), hashOf(2));
    expect(await refs.get('r')).toBe(hashOf(2));
  });

  it('ignores a torn last record (crash mid-append) and overwrites it with the next one', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root });
    await refs.compareAndSwap('r', null, hashOf(1), { time: 10 });
    const before = await logEnd(root);
    await refs.compareAndSwap('r', hashOf(1), hashOf(2), { time: 20, message: 'm'.repeat(3000) });
    await refs.close();
    // Keep the first half of that long record only: what a crash between its write and its fdatasync can leave.
    const { bytes, end } = await logEnd(root);
    const torn = Buffer.concat([bytes.subarray(0, before.end + Math.floor((end - before.end) / 2)), Buffer.alloc(bytes.length)]).subarray(0, bytes.length);
    await writeFile(join(root, 'refs.log'), torn);
    const reopened = new FsRefStore({ root });
    expect(await reopened.get('r')).toBe(hashOf(1));
    expect((await reopened.reflog('r')).map((e) => [e.time, e.new])).toEqual([[10, hashOf(1)]]);
    await reopened.compareAndSwap('r', hashOf(1), hashOf(3), { time: 30 });
    expect((await new FsRefStore({ root }).reflog('r')).map((e) => e.time)).toEqual([30, 10]);
  });

  it('never takes a whole record that followed a torn one once the torn one is overwritten (chained checksums)', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root });
    await refs.compareAndSwap('r', null, hashOf(1), { time: 10 });
    const start = (await logEnd(root)).end;
    await refs.compareAndSwap('r', hashOf(1), hashOf(2), { time: 20, message: 'a'.repeat(100) });
    await refs.compareAndSwap('r', hashOf(2), hashOf(5), { time: 25 });
    await refs.close();
    // Corrupt one byte of the middle record: the last record stays whole but is now after a torn one.
    const bytes = await readFile(join(root, 'refs.log'));
    bytes[start + 20] = (bytes[start + 20] as number) ^ 0xff;
    await writeFile(join(root, 'refs.log'), bytes);
    const reopened = new FsRefStore({ root });
    expect(await reopened.get('r')).toBe(hashOf(1));
    // Same length as the torn record, so the old last record sits right after it, at a record boundary.
    await reopened.compareAndSwap('r', hashOf(1), hashOf(3), { time: 30, message: 'b'.repeat(100) });
    const fresh = new FsRefStore({ root });
    expect(await fresh.get('r')).toBe(hashOf(3));
    expect((await fresh.reflog('r')).map((e) => [e.time, e.new])).toEqual([[30, hashOf(3)], [10, hashOf(1)]]);
    await fresh.compareAndSwap('r', hashOf(3), hashOf(4), { time: 40 });
    expect((await new FsRefStore({ root }).reflog('r')).map((e) => e.time)).toEqual([40, 30, 10]);
  });

  it('refuses a log of an unknown format version with CORRUPT_METADATA', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root });
    await refs.compareAndSwap('r', null, hashOf(1));
    await refs.close();
    const bytes = await readFile(join(root, 'refs.log'));
    // Rewrite the header record's version digit (2 -> 9) and its checksum, as a future version would write it.
    const len = bytes.readUInt32LE(4);
    const payload = Buffer.from(bytes.subarray(12, 12 + len).toString('utf8').replace('"version":2', '"version":9'));
    bytes.writeUInt32LE(crc32(payload, 0), 8);
    payload.copy(bytes, 12);
    await writeFile(join(root, 'refs.log'), bytes);
    expect(await conflictCode(new FsRefStore({ root }).get('r'))).toBe('CORRUPT_METADATA');
  });

  it('keeps long reflog entries whole', async () => {
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

  it('migrates a layout-1 directory and answers before/limit on its large reflog the same as filtering the whole log', async () => {
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

  it('refuses to migrate a layout-1 ref file that does not hold a hash (CORRUPT_METADATA), writing nothing', async () => {
    const root = await tempDir();
    const refs = new FsRefStore({ root });
    await mkdir(join(root, 'refs', 'bad'), { recursive: true });
    await writeFile(join(root, 'refs', 'bad', '~ref'), 'not a hash\n');
    const err = await refs.get('bad').catch((e: unknown) => e);
    expect((err as ArmillariaError).code).toBe('CORRUPT_METADATA');
    expect((await readdir(root)).filter((f) => f.startsWith('refs.log'))).toEqual([]);
  });
});
