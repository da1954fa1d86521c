import type { Hash } from '@armillaria/core';

/**
 * Objects that in-flight work will reference but no ref names yet: GC marks them (and everything they
 * reach) as live. The transaction coordinator is the main source: every PREPARED or COMMITTED record
 * names a base commit, a staged tree of manifests and, once committed, the new commit.
 *
 * Only durable records can be roots. Chunks of a transaction that is still ACTIVE (in one
 * coordinator's memory) are protected by GC's grace period instead, which is why `graceMs` must exceed
 * the longest transaction.
 */
export interface GcRootSource {
  /** Read once per GC run, after the refs, so a record written while refs were read is not missed. */
  roots(): Promise<readonly GcRoot[]>;
}

export interface GcRoot {
  /** What the hash names: marking a commit marks its ancestry and trees; a manifest its pages and data. */
  kind: 'commit' | 'tree' | 'manifest';
  hash: Hash;
  /** For reports (e.g. `txn 0f3a…`). */
  label?: string;
}

/** The fields of a transaction record GC reads (structurally the coordinator's `TxnRecord`). */
export interface PendingTxnRecord {
  id: string;
  base: Hash;
  commit?: Hash;
  tree: { tables: Record<string, { manifest: Hash }> };
}

/**
 * A root source over anything listing pending transaction records, e.g. the coordinator's
 * `TxnLog` (`pending()` returns every PREPARED or COMMITTED record):
 * `collectGarbage(catalog, { roots: [pendingTxnRoots(txnLog)] })`.
 */
export function pendingTxnRoots(log: { pending(): Promise<readonly PendingTxnRecord[]> }): GcRootSource {
  return {
    async roots() {
      const out: GcRoot[] = [];
      for (const r of await log.pending()) {
        const label = `txn ${r.id}`;
        out.push({ kind: 'commit', hash: r.base, label });
        if (r.commit !== undefined) out.push({ kind: 'commit', hash: r.commit, label });
        for (const t of Object.values(r.tree.tables)) out.push({ kind: 'manifest', hash: t.manifest, label });
      }
      return out;
    },
  };
}
