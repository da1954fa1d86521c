import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onExitCleanup } from './exit-cleanup.js';
import { uniqueName } from './unique-name.js';

export interface TempDir {
  readonly path: string;
  /** Removes the directory and everything in it. Idempotent. */
  cleanup(): Promise<void>;
}

/**
 * Creates a fresh directory under the OS temp dir. Call `cleanup()` in `afterEach`/`afterAll`;
 * if the process exits first, the directory is removed on exit anyway.
 */
export function tempDir(prefix = 'armillaria'): TempDir {
  const path = mkdtempSync(join(tmpdir(), `${uniqueName(prefix)}-`));
  const unregister = onExitCleanup(() => rmSync(path, { recursive: true, force: true }));
  let removed: Promise<void> | undefined;
  return {
    path,
    cleanup() {
      removed ??= (async () => {
        unregister();
        await rm(path, { recursive: true, force: true, maxRetries: 3 });
      })();
      return removed;
    },
  };
}
