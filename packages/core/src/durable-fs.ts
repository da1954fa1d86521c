import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

/** fsync of a directory, so a rename, link or unlink in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** mkdir -p that also syncs every directory it created into its parent (a new entry must survive a crash). */
export async function makeParents(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  const created: string[] = [];
  for (let d = dir; d.length >= first.length; d = dirname(d)) created.push(d);
  // created is deepest first; sync each new directory's parent, top down.
  for (const d of created.reverse()) await syncDir(dirname(d));
}
