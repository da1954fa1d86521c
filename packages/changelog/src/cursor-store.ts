import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ArmillariaError, ErrorCode, InvalidArgumentError, isHash, type Hash } from '@armillaria/core';

/** Where a durable subscription stands: every event up to and including (`seq`, `table`) was delivered. */
export interface Cursor {
  repo: string;
  branch: string;
  commit: Hash;
  seq: number;
  /** Last delivered table of `commit` (a commit's events go out in table-name order). */
  table: string;
  /** ms since epoch of the save. */
  savedAt: number;
}

/** Durable subscription positions by name. */
export interface CursorStore {
  /** undefined when the name has never been saved. */
  load(name: string): Promise<Cursor | undefined>;
  /** Durable when it returns (a crash afterwards resumes after this position). */
  save(name: string, cursor: Cursor): Promise<void>;
}

/** Names are path-safe and bounded: `[A-Za-z0-9._-]{1,128}`, not starting with a dot. */
export function assertDurableName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(name)) {
    throw new InvalidArgumentError(`invalid durable name ${JSON.stringify(name)}: use 1-128 of [A-Za-z0-9._-], not starting with '.'`, { details: { field: 'durableName' } });
  }
}

export class MemoryCursorStore implements CursorStore {
  private readonly cursors = new Map<string, Cursor>();
  async load(name: string): Promise<Cursor | undefined> {
    assertDurableName(name);
    const c = this.cursors.get(name);
    return c && { ...c };
  }
  async save(name: string, cursor: Cursor): Promise<void> {
    assertDurableName(name);
    this.cursors.set(name, { ...cursor });
  }
}

/** One small JSON file per name, replaced atomically (temp file, fsync, rename). */
export class FsCursorStore implements CursorStore {
  constructor(private readonly dir: string) {}

  async load(name: string): Promise<Cursor | undefined> {
    assertDurableName(name);
    const path = join(this.dir, `${name}.json`);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const c = JSON.parse(text) as Partial<Cursor>;
    if (!c || typeof c.repo !== 'string' || typeof c.branch !== 'string' || !isHash(c.commit) || typeof c.seq !== 'number' || typeof c.table !== 'string') {
      throw new ArmillariaError(ErrorCode.CorruptMetadata, `cursor file ${path} is corrupt`, { details: { path } });
    }
    return c as Cursor;
  }

  async save(name: string, cursor: Cursor): Promise<void> {
    assertDurableName(name);
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, `${name}.json`);
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(cursor));
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  }
}
