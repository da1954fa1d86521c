import { ErrorCode, isArmillariaError, parseJsonBytes, canonicalJsonBytes, type Hash } from '@armillaria/core';
import type { ObjectStore } from '@armillaria/chunk-store';
import { HashSet } from './hash-set.js';

export const GC_STATE_VERSION = 1;

/**
 * What an interrupted sweep needs to go on: the mark set of its run (persisted once, after marking)
 * and how far the sweep got. Resuming with the old mark set and the old `cutoff` is safe: a chunk
 * written since is younger than the cutoff, and a chunk a new commit reuses was reachable, so marked.
 */
export interface GcState {
  v: 1;
  runId: string;
  startedAt: number;
  /** Chunks modified at or after this time are never swept (run start minus grace). */
  cutoff: number;
  /** Last hash whose sweep batch completed; the sweep restarts after it. */
  sweptAfter: Hash | null;
  deleted: { chunks: number; bytes: number };
}

/** Where a GC run keeps its resumable state. */
export interface GcStateStore {
  load(): Promise<{ state: GcState; marks: HashSet } | undefined>;
  /** Persists the mark set and the initial state of a run. */
  begin(state: GcState, marks: HashSet): Promise<void>;
  /** Persists sweep progress (after each delete batch). */
  progress(state: GcState): Promise<void>;
  /** Removes the run state (not the known refs) once the run finished. */
  clear(): Promise<void>;
  /**
   * Branch and tag names per repo seen by earlier runs. The RefStore lists only existing refs, so this
   * is how a later run finds the reflog of a ref deleted since and keeps its positions for the window.
   */
  knownRefs(): Promise<Record<string, string[]>>;
  saveKnownRefs(refs: Record<string, string[]>): Promise<void>;
}

/**
 * GC state as objects in an ObjectStore (by default the store holding the chunks): `<prefix>state.json`
 * (canonical JSON, GcState), `<prefix><runId>.marks` (the mark set, 32 bytes per hash) and
 * `<prefix>known-refs.json` ({repo: [ref names]}, kept across runs). Embedded
 * mode puts them in `<dataDir>/gc/`, S3 under `gc/` in the bucket. Delete them to force a fresh run.
 */
export class ObjectStoreGcState implements GcStateStore {
  constructor(private readonly objects: ObjectStore, private readonly prefix = 'gc/') {}

  private get stateKey(): string {
    return `${this.prefix}state.json`;
  }

  private marksKey(runId: string): string {
    return `${this.prefix}${runId}.marks`;
  }

  async load(): Promise<{ state: GcState; marks: HashSet } | undefined> {
    const raw = await this.getOrUndefined(this.stateKey);
    if (!raw) return undefined;
    let state: GcState;
    try {
      state = parseJsonBytes(raw) as GcState;
    } catch {
      return undefined; // unreadable state: start over (always safe, only slower)
    }
    if (state?.v !== GC_STATE_VERSION || typeof state.runId !== 'string' || typeof state.cutoff !== 'number') return undefined;
    const marks = await this.getOrUndefined(this.marksKey(state.runId));
    if (!marks || marks.byteLength % 32 !== 0) return undefined;
    return { state, marks: HashSet.fromBytes(marks) };
  }

  async begin(state: GcState, marks: HashSet): Promise<void> {
    await this.objects.put(this.marksKey(state.runId), marks.toBytes(), { contentType: 'application/octet-stream' });
    await this.progress(state);
  }

  async progress(state: GcState): Promise<void> {
    await this.objects.put(this.stateKey, canonicalJsonBytes(state), { contentType: 'application/json' });
  }

  async clear(): Promise<void> {
    const keys: string[] = [];
    for await (const info of this.objects.list(this.prefix)) if (info.key !== this.knownKey) keys.push(info.key);
    if (keys.length > 0) await this.objects.deleteMany(keys);
  }

  private get knownKey(): string {
    return `${this.prefix}known-refs.json`;
  }

  async knownRefs(): Promise<Record<string, string[]>> {
    const raw = await this.getOrUndefined(this.knownKey);
    if (!raw) return {};
    try {
      const v = parseJsonBytes(raw) as Record<string, unknown>;
      const out: Record<string, string[]> = {};
      for (const [repo, names] of Object.entries(v ?? {})) {
        if (Array.isArray(names)) out[repo] = names.filter((n): n is string => typeof n === 'string');
      }
      return out;
    } catch {
      return {}; // unreadable: deleted refs fall back to commit-time protection only
    }
  }

  async saveKnownRefs(refs: Record<string, string[]>): Promise<void> {
    await this.objects.put(this.knownKey, canonicalJsonBytes(refs), { contentType: 'application/json' });
  }

  private async getOrUndefined(key: string): Promise<Uint8Array | undefined> {
    try {
      return await this.objects.get(key);
    } catch (err) {
      if (isArmillariaError(err, ErrorCode.ObjectNotFound)) return undefined;
      throw err;
    }
  }
}
