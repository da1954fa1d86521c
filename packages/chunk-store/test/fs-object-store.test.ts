import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode, chunkKey, sleep } from '@armillaria/core';
import { FsObjectStore } from '../src/index.js';
import { objectStoreContract } from './object-store.contract.js';

objectStoreContract('fs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'armillaria-fs-store-'));
  const store = new FsObjectStore({ root });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});

const SRC = pathToFileURL(fileURLToPath(new URL('../src/index.ts', import.meta.url))).href;
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Runs `code` (an ES module body with `FsObjectStore` and `root` in scope) in a real child process. */
function child(code: string, root: string, args: string[] = []): ChildProcess {
  const script = `import { FsObjectStore } from ${JSON.stringify(SRC)};\nconst root = ${JSON.stringify(root)};\nconst args = ${JSON.stringify(args)};\n${code}`;
  return spawn(process.execPath, ['--conditions=@armillaria/source', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function finished(proc: ChildProcess): Promise<string> {
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d) => (out += d));
  proc.stderr?.on('data', (d) => (err += d));
  const [code] = (await once(proc, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`child exited with ${code}: ${err}`);
  return out;
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'armillaria-fs-store-'));
}

describe('FsObjectStore on disk', () => {
  it('leaves no partial object when the writing process is SIGKILLed mid-put', async () => {
    const root = await tempDir();
    try {
      const store = new FsObjectStore({ root });
      await store.put('big/k', Buffer.from('old value'));
      // The child streams 512 MiB as fast as it can; we kill it once its temp file holds a few MiB.
      const proc = child(
        `const store = new FsObjectStore({ root });
         const piece = new Uint8Array(1 << 20).fill(7);
         async function* body() { for (let i = 0; i < 512; i++) yield piece; }
         await store.putStream('big/k', body());
         await store.putStream('big/new', body());`,
        root,
      );
      const exited = once(proc, 'exit');
      let stderr = '';
      proc.stderr?.on('data', (d) => (stderr += d));
      let running = true;
      void exited.then(() => (running = false));
      // No timing assumption: poll until the temp file is big enough (a loaded machine may start the child slowly).
      let seen = 0;
      const deadline = Date.now() + 45_000;
      while (running && seen < 4 << 20 && Date.now() < deadline) {
        await sleep(5);
        const names = await readdir(join(root, '.tmp')).catch(() => [] as string[]);
        for (const n of names) seen = Math.max(seen, (await stat(join(root, '.tmp', n)).catch(() => ({ size: 0 }))).size);
      }
      expect(running, `child exited early: ${stderr}`).toBe(true);
      expect(seen).toBeGreaterThanOrEqual(4 << 20);
      proc.kill('SIGKILL');
      const [, signal] = (await exited) as [number | null, string | null];
      expect(signal).toBe('SIGKILL');
      expect(Buffer.from(await store.get('big/k')).toString()).toBe('old value');
      expect(await store.head('big/new')).toBeUndefined();
      const keys: string[] = [];
      for await (const info of store.list('')) keys.push(info.key);
      expect(keys).toEqual(['big/k']);
      // The partial temp file is the sweep's to remove, and only once it is stale.
      expect((await readdir(join(root, '.tmp'))).length).toBe(1);
      expect(await new FsObjectStore({ root }).sweptTempFiles()).toBe(0);
      const sweeper = new FsObjectStore({ root, staleTempMs: 0 });
      expect(await sweeper.sweptTempFiles()).toBe(1);
      expect(await readdir(join(root, '.tmp'))).toEqual([]);
      await store.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('keeps ifMatch compare-and-swap exact across processes (no lost update)', async () => {
    const root = await tempDir();
    try {
      const store = new FsObjectStore({ root });
      await store.put('counter', Buffer.from('0'));
      const worker = `const store = new FsObjectStore({ root });
        let retries = 0;
        for (let i = 0; i < Number(args[0]); i++) {
          for (;;) {
            const info = await store.head('counter');
            const n = Number(Buffer.from(await store.get('counter')).toString());
            try { await store.put('counter', Buffer.from(String(n + 1)), { ifMatch: info.etag }); break; }
            catch (err) { if (err.code !== 'PRECONDITION_FAILED') throw err; retries++; }
          }
        }
        process.stdout.write(String(retries));`;
      const outs = await Promise.all(Array.from({ length: 4 }, () => finished(child(worker, root, ['25']))));
      expect(Buffer.from(await store.get('counter')).toString()).toBe('100');
      // Printed for the curious: how contended the key was.
      console.log(`fs CAS across 4 processes: 100 increments, ${outs.map(Number).reduce((a, b) => a + b, 0)} retries`);
      expect(await readdir(join(root, '.locks'))).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('lets exactly one process win each ifNoneMatch create', async () => {
    const root = await tempDir();
    try {
      const worker = `const store = new FsObjectStore({ root });
        const won = [];
        for (let i = 0; i < 30; i++) {
          try { await store.put('race/' + i, Buffer.from(args[0]), { ifNoneMatch: '*' }); won.push(i); }
          catch (err) { if (err.code !== 'PRECONDITION_FAILED') throw err; }
        }
        process.stdout.write(JSON.stringify(won));`;
      const outs = await Promise.all(['w0', 'w1', 'w2', 'w3'].map((name) => finished(child(worker, root, [name]))));
      const wins = outs.map((o) => JSON.parse(o) as number[]);
      const store = new FsObjectStore({ root });
      for (let i = 0; i < 30; i++) {
        const owners = wins.flatMap((w, j) => (w.includes(i) ? [`w${j}`] : []));
        expect(owners, `key race/${i}`).toHaveLength(1);
        expect(Buffer.from(await store.get(`race/${i}`)).toString()).toBe(owners[0]);
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('breaks a lock left by a dead process', async () => {
    const root = await tempDir();
    try {
      const store = new FsObjectStore({ root });
      const first = await store.put('refs/main', Buffer.from('a'));
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      const lockName = `${createHash('sha256').update('refs/main').digest('hex')}.lock`;
      await writeFile(join(root, '.locks', lockName), `${dead.stdout} ${hostname()} ${Date.now()} deadbeef`);
      await store.put('refs/main', Buffer.from('b'), { ifMatch: first.etag });
      expect(Buffer.from(await store.get('refs/main')).toString()).toBe('b');
      expect(await readdir(join(root, '.locks'))).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('breaks a lock older than staleLockMs even if its holder looks alive', async () => {
    const root = await tempDir();
    try {
      const store = new FsObjectStore({ root, staleLockMs: 200 });
      await store.put('refs/x', Buffer.from('a'));
      const lockName = `${createHash('sha256').update('refs/x').digest('hex')}.lock`;
      // Our parent's pid: alive, so only age can free it.
      await writeFile(join(root, '.locks', lockName), `${process.ppid} ${hostname()} ${Date.now()} cafe`);
      await store.delete('refs/x');
      expect(await store.head('refs/x')).toBeUndefined();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('sweeps only temp files older than staleTempMs at startup', async () => {
    const root = await tempDir();
    try {
      await mkdir(join(root, '.tmp'), { recursive: true });
      await writeFile(join(root, '.tmp', 'old.tmp'), 'partial');
      await writeFile(join(root, '.tmp', 'fresh.tmp'), 'partial');
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
      await utimes(join(root, '.tmp', 'old.tmp'), twoHoursAgo, twoHoursAgo);
      // Leftovers of a process killed while taking or breaking a lock.
      await mkdir(join(root, '.locks'), { recursive: true });
      for (const name of ['k.lock.1234.draft', 'k.lock.stale-abcd', 'live.lock']) {
        await writeFile(join(root, '.locks', name), 'x');
        await utimes(join(root, '.locks', name), twoHoursAgo, twoHoursAgo);
      }
      const store = new FsObjectStore({ root });
      expect(await store.sweptTempFiles()).toBe(3);
      expect(await readdir(join(root, '.tmp'))).toEqual(['fresh.tmp']);
      expect(await readdir(join(root, '.locks'))).toEqual(['live.lock']);
      const keys: string[] = [];
      for await (const info of store.list('')) keys.push(info.key);
      expect(keys).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('maps chunk keys to the two-level tree under root and reserves its scratch directories', async () => {
    const root = await tempDir();
    try {
      const store = new FsObjectStore({ root });
      const hash = 'ab'.repeat(32);
      await store.put(chunkKey(hash), Buffer.from('chunk'));
      expect((await readFile(join(root, 'objects', 'ab', 'ab', hash))).toString()).toBe('chunk');
      for (const key of ['.tmp/x', '.locks/y', '.tmp']) {
        await expect(store.put(key, Buffer.from('x'))).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
        await expect(store.get(key)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      }
      await expect(store.deleteMany([chunkKey(hash), '.tmp/x'])).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      expect(await store.head(chunkKey(hash))).toMatchObject({ size: 5 });
      // Scratch files are never listed, whatever the prefix.
      await writeFile(join(root, '.tmp', 'stray.tmp'), 'x');
      for (const prefix of ['', '.', '.tmp/', '.tmp', '.locks/']) {
        const keys: string[] = [];
        for await (const info of store.list(prefix)) keys.push(info.key);
        expect(keys, `list ${prefix}`).toEqual(prefix === '' ? [chunkKey(hash)] : []);
      }
      expect(store.description).toBe(`fs:${root}`);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses a key that is also a directory of other keys, and frees it once they are deleted', async () => {
    const root = await tempDir();
    try {
      const store = new FsObjectStore({ root });
      await store.put('a/b', Buffer.from('x'));
      await expect(store.put('a', Buffer.from('y'))).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      await expect(store.put('a', Buffer.from('y'), { ifNoneMatch: '*' })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      await expect(store.put('a/b/c', Buffer.from('z'))).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      await store.delete('a/b');
      await store.put('a', Buffer.from('y'), { ifNoneMatch: '*' });
      expect(Buffer.from(await store.get('a')).toString()).toBe('y');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('gives every put a new etag, even of the same bytes', async () => {
    const root = await tempDir();
    try {
      const store = new FsObjectStore({ root });
      const a = await store.put('e', Buffer.from('same'));
      const b = await store.put('e', Buffer.from('same'));
      expect(b.etag).not.toBe(a.etag);
      await expect(store.put('e', Buffer.from('late'), { ifMatch: a.etag })).rejects.toMatchObject({ code: ErrorCode.PreconditionFailed });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('reports an unusable root as BACKEND_UNAVAILABLE', async () => {
    const root = await tempDir();
    try {
      await writeFile(join(root, 'file'), 'not a directory');
      const store = new FsObjectStore({ root: join(root, 'file', 'sub') });
      await expect(store.ping()).rejects.toMatchObject({ code: ErrorCode.BackendUnavailable });
      await expect(store.put('k', Buffer.from('x'))).rejects.toMatchObject({ code: ErrorCode.BackendUnavailable });
      expect(() => new FsObjectStore({ root: '' })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
