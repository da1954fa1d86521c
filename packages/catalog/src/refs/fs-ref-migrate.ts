import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isHash } from '@armillaria/core';
import { CorruptMetadataError } from '../errors.js';
import { fromStoredEntry } from './ref-args.js';
import type { LogRecord } from './fs-ref-log-format.js';

/**
 * Reads a layout-1 FsRefStore directory (before the ref log): `refs/<name>/~ref` holding the value,
 * `~log` the reflog as JSON lines (a torn line skipped), `~lock` and temp files ignored. Returns the
 * records that rebuild the same refs and reflogs in a layout-2 log (per ref: its reflog entries, times
 * clamped to never go back, then its value), or undefined when there is no layout-1 tree.
 * Throws CorruptMetadataError for a value file that does not hold a hash: the migration then writes nothing.
 */
export async function readLayout1(refsDir: string): Promise<LogRecord[] | undefined> {
  const refs: { name: string; dir: string; hasValue: boolean; hasLog: boolean }[] = [];
  const walk = async (dir: string, segments: string[]): Promise<boolean> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    const files = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
    if (segments.length > 0 && (files.has('~ref') || files.has('~log'))) {
      refs.push({ name: segments.join('/'), dir, hasValue: files.has('~ref'), hasLog: files.has('~log') });
    }
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('~')) await walk(join(dir, e.name), [...segments, e.name]);
    return true;
  };
  if (!(await walk(refsDir, []))) return undefined;
  refs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: LogRecord[] = [];
  for (const ref of refs) {
    if (ref.hasLog) {
      let last = 0;
      for (const line of (await readFile(join(ref.dir, '~log'), 'utf8')).split('\n')) {
        const e = parseLine(ref.name, line);
        if (!e) continue;
        last = Math.max(last, e.time);
        const r: LogRecord = { k: 'log', n: ref.name, o: e.old, v: e.new, t: last };
        if (e.message !== undefined) r.m = e.message;
        if (e.author !== undefined) r.a = e.author;
        out.push(r);
      }
    }
    if (ref.hasValue) {
      const value = (await readFile(join(ref.dir, '~ref'), 'utf8')).trim();
      if (!isHash(value)) throw new CorruptMetadataError('ref', ref.name, `${join(ref.dir, '~ref')} does not hold a hash (layout-1 directory not migrated)`);
      out.push({ k: 'set', n: ref.name, o: null, v: value, t: 0 });
    }
  }
  return out;
}

function parseLine(name: string, line: string): ReturnType<typeof fromStoredEntry> {
  if (!line.trim()) return undefined;
  try {
    return fromStoredEntry(name, JSON.parse(line));
  } catch {
    return undefined;
  }
}
