import { cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sleep } from '@armillaria/core';
import { spawnNode, stopSpawned, tempDir, type NodeProcess, type TempDir } from '@armillaria/testkit';
import { FsRefStore } from '../src/index.js';

const hashOf = (n: number): string => n.toString(16).padStart(64, '0');
const numberOf = (h: string | null | undefined): number => (h === undefined || h === null ? NaN : parseInt(h, 16));
const CHILD = fileURLToPath(new URL('./fs-ref-compaction-child.ts', import.meta.url));

const dirs: TempDir[] = [];
const stores: FsRefStore[] = [];
function dir(): string {
  const d = tempDir('fs-ref-compaction');
  dirs.push(d);
  return d.path;
}
function open(root: string): FsRefStore {
  const s = new FsRefStore({ root, lock: { timeoutMs: 30_000 } });
  stores.push(s);
  return s;
}
afterEach(async () => {
  await stopSpawned();
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await Promise.all(dirs.map((d) => d.cleanup()));
});

/** Offset just past the last record of a ref log and the last record's crc (walking the record chain). */
async function logTail(root: string): Promise<{ bytes: Buffer; end: number; crc: number }> {
  const bytes = await readFile(join(root, 'refs.log'));
  let end = 0;
  let crc = 0;
  while (end + 12 <= bytes.length && bytes.readUInt32LE(end) === 0x4c465241) {
    const len = bytes.readUInt32LE(end + 4);
    crc = bytes.readUInt32LE(end + 8);
    end += 12 + len;
  }
  return { bytes, end, crc };
}

describe('FsRefStore compaction', () => {
  it('shrinks the log to the live records, and other open stores switch to the new file', async () => {
    const root = dir();
    const a = open(root);
    const b = open(root);
    const names = Array.from({ length: 50 }, (_, i) => `repos/r/branches/b${i}`);
    await Promise.all(names.map((n) => a.compareAndSwap(n, null, hashOf(1), { time: 1000, message: 'm'.repeat(2000) })));
    for (let i = 2; i <= 20; i++) await Promise.all(names.map((n) => a.compareAndSwap(n, hashOf(i - 1), hashOf(i), { time: i * 1000, message: 'm'.repeat(2000) })));
    expect(await b.get(names[7] as string)).toBe(hashOf(20)); // b has read the old file to its end
    const before = await logTail(root);
    expect(await a.expireReflog(20_000)).toEqual({ entriesRemoved: 50 * 18, refsForgotten: 0 });
    const after = await logTail(root);
    expect(after.end).toBeLessThan(before.end / 8);
    // b still holds the old file: its next read finds the marker, opens the new file and rebuilds.
    expect(await b.list('repos/r/')).toEqual(names.map((n) => ({ name: n, value: hashOf(20) })).sort((x, y) => (x.name < y.name ? -1 : 1)));
    expect((await b.reflog(names[3] as string)).map((e) => [e.time, numberOf(e.new), e.message?.length])).toEqual([[20_000, 20, 2000], [19_000, 19, 2000]]);
    // b writes into the new file (a fresh store sees it) and a sees b's write.
    await b.compareAndSwap(names[3] as string, hashOf(20), hashOf(21), { time: 30_000 });
    expect(await a.get(names[3] as string)).toBe(hashOf(21));
    expect(await open(root).get(names[3] as string)).toBe(hashOf(21));
    // Two more compactions while b sleeps on a file two generations old.
    const c = open(root);
    await c.compareAndSwap(names[0] as string, hashOf(20), hashOf(22), { time: 31_000 });
    expect(await a.expireReflog(25_000)).toEqual({ entriesRemoved: 50, refsForgotten: 0 });
    await c.compareAndSwap(names[0] as string, hashOf(22), null, { time: 32_000 });
    expect(await a.expireReflog(32_000)).toEqual({ entriesRemoved: 2, refsForgotten: 0 });
    expect(await b.get(names[0] as string)).toBeUndefined();
    expect((await b.reflog(names[0] as string)).map((e) => [e.time, numberOf(e.new)])).toEqual([[32_000, NaN], [31_000, 22]]);
    expect(await b.expireReflog(32_000)).toEqual({ entriesRemoved: 0, refsForgotten: 0 });
    expect(await b.expireReflog(32_001)).toEqual({ entriesRemoved: 2, refsForgotten: 1 });
    expect(await a.reflog(names[0] as string)).toEqual([]);
    expect((await readdir(root)).sort()).toEqual(['refs.log']);
  });

  it('treats a superseded marker followed by records as void (a compaction that died before its rename)', async () => {
    const root = dir();
    const a = open(root);
    const b = open(root);
    await a.compareAndSwap('r', null, hashOf(1), { time: 1000 });
    expect(await b.get('r')).toBe(hashOf(1));
    // What a compacting process killed between its marker and its rename leaves: the marker at the end of the live log.
    const { bytes, end, crc } = await logTail(root);
    const payload = Buffer.from(JSON.stringify({ superseded: Date.now() }));
    const head = Buffer.alloc(12);
    head.writeUInt32LE(0x4c465241, 0);
    head.writeUInt32LE(payload.length, 4);
    head.writeUInt32LE(crc32(payload, crc), 8);
    Buffer.concat([head, payload]).copy(bytes, end);
    await writeFile(join(root, 'refs.log'), bytes);
    expect(await b.get('r')).toBe(hashOf(1)); // reads the marker, finds the same file under the name, carries on
    await a.compareAndSwap('r', hashOf(1), hashOf(2), { time: 2000 }); // appended after the marker
    expect(await b.get('r')).toBe(hashOf(2));
    expect((await open(root).reflog('r')).map((e) => numberOf(e.new))).toEqual([2, 1]);
    expect(await b.expireReflog(5000)).toEqual({ entriesRemoved: 1, refsForgotten: 0 });
    expect(await a.reflog('r')).toHaveLength(1);
  });

  it('keeps value-only records of a migrated layout-1 ref whose reflog lags its value', async () => {
    const root = dir();
    const refDir = join(root, 'refs', 'm');
    await mkdir(refDir, { recursive: true });
    await writeFile(join(refDir, '~ref'), `${hashOf(9)}\n`);
    await writeFile(join(refDir, '~log'), `${JSON.stringify({ old: null, new: hashOf(1), time: 1000 })}\n${JSON.stringify({ old: hashOf(1), new: hashOf(2), time: 2000 })}\n`);
    const refs = open(root);
    expect(await refs.get('m')).toBe(hashOf(9));
    expect(await refs.expireReflog(5000)).toEqual({ entriesRemoved: 1, refsForgotten: 0 });
    expect(await open(root).get('m')).toBe(hashOf(9));
    expect((await open(root).reflog('m')).map((e) => numberOf(e.new))).toEqual([2]);
  });
});

/** Forwards every `committed <n>` line a child prints to every child's stdin; reports `compacted <k>` lines. */
function relay(children: NodeProcess[], onCommitted: (n: number) => void, onCompacted: (k: number) => void): void {
  for (const c of children) {
    // A child that finished its work has closed stdin: lines relayed to it after that are not needed
    // (EPIPE), and must not surface as an unhandled error of the test run.
    c.child.stdin?.on('error', () => {});
    let partial = '';
    c.child.stdout?.on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('compacted ')) onCompacted(Number(line.slice('compacted '.length)));
        if (!line.startsWith('committed ')) continue;
        onCommitted(Number(line.slice('committed '.length)));
        for (const other of children) if (other.child.stdin?.writable) other.child.stdin.write(`${line}\n`);
      }
    });
  }
}

const lastJson = (p: NodeProcess): Record<string, unknown> => JSON.parse(p.stdout().trim().split('\n').at(-1) as string) as Record<string, unknown>;

describe('FsRefStore compaction across processes', () => {
  it('never returns a stale value or loses a CAS while another process compacts over and over', async () => {
    const root = dir();
    const ref = 'repos/procs/branches/main';
    // History for the first compactions to remove: 400 refs x 5 old entries.
    const seed = open(root);
    const names = Array.from({ length: 400 }, (_, i) => `repos/procs/commits/${String(i).padStart(3, '0')}`);
    await Promise.all(names.map((n) => seed.compareAndSwap(n, null, hashOf(1), { time: 1000 })));
    for (let i = 2; i <= 5; i++) await Promise.all(names.map((n) => seed.compareAndSwap(n, hashOf(i - 1), hashOf(i), { time: i * 1000 })));

    // Workers make at least 50 increments each and go on until the compactor has compacted 8 times (or 60 s).
    const workers = [0, 1, 2].map((i) => spawnNode(CHILD, { args: ['worker', root, ref, '50', `w${i}`] }));
    const compactor = spawnNode(CHILD, { args: ['compactor', root, ref] });
    const all = [...workers, compactor];
    // The parent reads too, through a store that was open before any compaction.
    let announced = 0;
    const parentStale: string[] = [];
    let checking = Promise.resolve();
    const stopWorkers = (): void => workers.forEach((w) => w.child.stdin?.write('stop\n'));
    relay(all, (n) => {
      announced = Math.max(announced, n);
      const min = announced;
      checking = checking.then(async () => {
        const v = numberOf(await seed.get(ref));
        if (!(v >= min)) parentStale.push(`parent read ${v} after ${min} was committed`);
      });
    }, (k) => {
      if (k === 8) stopWorkers();
    });
    await Promise.all(all.map((c) => c.waitForOutput('ready', { timeoutMs: 60_000 })));
    for (const c of all) c.child.stdin?.write('go\n');
    const deadline = setTimeout(stopWorkers, 60_000);
    const exits = await Promise.all(workers.map((w) => w.exited));
    clearTimeout(deadline);
    compactor.child.stdin?.write('stop\n');
    const compactorExit = await compactor.exited;
    await checking;
    for (const [i, e] of [...exits, compactorExit].entries()) expect(e.code, all[i]?.stderr()).toBe(0);

    const reports = all.map(lastJson);
    for (const r of reports) expect(r.stale, String(r.id)).toEqual([]);
    expect(parentStale).toEqual([]);
    const { compactions, removed } = reports[3] as { compactions: number; removed: number };
    const total = reports.slice(0, 3).reduce((n, r) => n + (r.done as number), 0);
    console.log(`3 workers made ${total} CAS while a 4th process compacted ${compactions} times (${removed} entries removed); conflicts ${reports.slice(0, 3).map((r) => r.conflicts).join(', ')}`);
    // The test is about CASes and reads racing compactions: it proves nothing unless several happened.
    expect(compactions).toBeGreaterThanOrEqual(8);

    const fresh = open(root);
    expect(numberOf(await fresh.get(ref))).toBe(total);
    expect(numberOf(await seed.get(ref))).toBe(total);
    // Whatever expiry left is one unbroken chain ending at the current value.
    const log = await fresh.reflog(ref);
    expect(numberOf(log[0]?.new)).toBe(total);
    for (let i = 0; i + 1 < log.length; i++) {
      expect(log[i]?.old).toBe(log[i + 1]?.new);
      expect(numberOf(log[i]?.new)).toBe(numberOf(log[i + 1]?.new) + 1);
    }
    for (const n of [names[0], names[399]] as string[]) expect((await fresh.reflog(n)).map((e) => numberOf(e.new))).toEqual([5]);
    expect((await readdir(root)).sort()).toEqual(['refs.log']);
  });

  it('leaves either the old log or the complete new one when the compacting process is SIGKILLed at any point', async () => {
    const base = dir();
    const template = join(base, 'template');
    // 3000 refs x 8 entries at times 1000..8000; expiry before 7500 keeps 2 per ref.
    const seed = open(template);
    const N = 3000;
    const name = (i: number): string => `repos/r${i % 5}/branches/b${i}`;
    await Promise.all(Array.from({ length: N }, (_, i) => seed.compareAndSwap(name(i), null, hashOf(i * 10 + 1), { time: 1000, message: `c${i}` })));
    for (let k = 2; k <= 8; k++) {
      await Promise.all(Array.from({ length: N }, (_, i) => seed.compareAndSwap(name(i), hashOf(i * 10 + k - 1), hashOf(i * 10 + k), { time: k * 1000 })));
    }
    await seed.close();
    const fullSize = (await stat(join(template, 'refs.log'))).size;

    const outcomes: string[] = [];
    for (const delay of [0, 5, 15, 30, 60, 100, 200, 400, 1000]) {
      const root = join(base, `round-${delay}`);
      await cp(template, root, { recursive: true });
      const child = spawnNode(CHILD, { args: ['expire', root, '7500'] });
      await child.waitForOutput('ready', { timeoutMs: 60_000 });
      child.child.stdin?.write('go\n');
      await sleep(delay);
      child.kill('SIGKILL');
      await child.exited;
      const files = await readdir(root);

      // Whatever the child got to, a new store sees the same values and, for every ref, either the whole
      // reflog or the expired one: never a mix of the two files, never a loss.
      const refs = open(root);
      const listed = new Map((await refs.list('repos/')).map((e) => [e.name, e.value]));
      expect(listed.size).toBe(N);
      const lengths = new Set<number>();
      for (let i = 0; i < N; i += 1) {
        expect(listed.get(name(i))).toBe(hashOf(i * 10 + 8));
        const log = await refs.reflog(name(i));
        lengths.add(log.length);
        expect(log.map((e) => numberOf(e.new))).toEqual(Array.from({ length: log.length }, (_, j) => i * 10 + 8 - j));
      }
      expect([...lengths].length).toBe(1);
      const kept = [...lengths][0] as number;
      expect([8, 2]).toContain(kept);
      outcomes.push(child.stdout().includes('expired') ? 'finished' : kept === 2 ? 'renamed' : files.some((f) => f.includes('.tmp-')) ? 'killed mid-write' : 'killed before or after writing');
      // A write breaks a lock the child may have died holding; the store sweeps its temp file; expiry completes.
      await refs.compareAndSwap(name(0), hashOf(8), hashOf(9), { time: 9000 });
      expect(await refs.expireReflog(7500)).toEqual(kept === 8 ? { entriesRemoved: N * 6, refsForgotten: 0 } : { entriesRemoved: 0, refsForgotten: 0 });
      expect((await refs.reflog(name(0))).map((e) => numberOf(e.new))).toEqual([9, 8, 7]);
      await refs.close();
      expect((await readdir(root)).filter((f) => f.startsWith('refs.')).sort()).toEqual(['refs.log']);
      expect((await stat(join(root, 'refs.log'))).size).toBeLessThanOrEqual(fullSize);
    }
    console.log(`compaction killed after 0-1000 ms: ${outcomes.join(', ')}`);
  });
});
