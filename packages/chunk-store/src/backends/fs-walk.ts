import { type Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { compareKeys } from './keys.js';

export interface WalkedFile {
  /** The object key: the path relative to the root, '/'-separated. */
  key: string;
  path: string;
}

/**
 * Files under `root` whose key starts with `prefix` and sorts after `startAfter`, in UTF-8 byte order of
 * keys, reading one directory at a time (a store can hold millions of objects; only the current directory
 * path is in memory). Byte order of keys is obtained by sorting a directory's entries with '/' appended to
 * subdirectory names: every key below directory `d` starts with `d/`. Subtrees that cannot hold a matching
 * key are never opened. `skipTopLevel` names are ignored at the root (the store's scratch directories).
 */
export async function* walkSorted(root: string, prefix: string, startAfter: string | undefined, skipTopLevel: ReadonlySet<string>): AsyncGenerator<WalkedFile> {
  // Start at the deepest directory the prefix names fully; its last partial segment filters names.
  const cut = prefix.lastIndexOf('/') + 1;
  // A prefix inside a scratch directory ('.tmp/') names no objects.
  if (cut > 0 && skipTopLevel.has(prefix.slice(0, prefix.indexOf('/')))) return;
  yield* walkDir(root, prefix.slice(0, cut), prefix, startAfter, skipTopLevel);
}

async function* walkDir(
  root: string,
  dirKey: string,
  prefix: string,
  startAfter: string | undefined,
  skipTopLevel: ReadonlySet<string>,
): AsyncGenerator<WalkedFile> {
  const dirPath = dirKey === '' ? root : join(root, ...dirKey.slice(0, -1).split('/'));
  let entries: Dirent[];
  try {
    entries = await readdir(dirPath, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return; // removed meanwhile, or a file where the prefix expects a directory
    throw err;
  }
  const sorted: Array<{ sortKey: string; name: string; dir: boolean }> = [];
  for (const e of entries) {
    if (dirKey === '' && skipTopLevel.has(e.name)) continue;
    let dir = e.isDirectory();
    let file = e.isFile();
    if (!dir && !file && !e.isSymbolicLink()) {
      // Some file systems do not report entry types; ask. Symlinks and sockets are not objects.
      const s = await lstat(join(dirPath, e.name)).catch(() => undefined);
      dir = s?.isDirectory() ?? false;
      file = s?.isFile() ?? false;
    }
    if (dir || file) sorted.push({ sortKey: dir ? `${e.name}/` : e.name, name: e.name, dir });
  }
  sorted.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
  for (const { sortKey, name, dir } of sorted) {
    const key = dirKey + sortKey;
    if (dir) {
      // Every key below starts with `key` (which ends in '/').
      if (!key.startsWith(prefix) && !prefix.startsWith(key)) continue;
      if (startAfter !== undefined && compareKeys(startAfter, key) >= 0 && !startAfter.startsWith(key)) continue;
      yield* walkDir(root, key, prefix, startAfter, skipTopLevel);
    } else {
      if (!key.startsWith(prefix)) continue;
      if (startAfter !== undefined && compareKeys(key, startAfter) <= 0) continue;
      yield { key, path: join(dirPath, name) };
    }
  }
}
