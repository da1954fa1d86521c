import type { ChangeEvent, DeliveredEvent } from '../src/index.js';

/** A deterministic fake hash (64 hex chars) for bus-level tests that need no catalog. */
export function fakeHash(n: number): string {
  return n.toString(16).padStart(64, '0');
}

let counter = 0;
/** A well-formed event; every call gets a fresh txn id unless `txnId` is given. */
export function makeEvent(over: Partial<ChangeEvent> = {}): ChangeEvent {
  const n = ++counter;
  return {
    v: 1,
    repo: 'r',
    branch: 'main',
    table: 't',
    commit: fakeHash(n),
    parent: null,
    txnId: `txn-${process.pid}-${n}`,
    seq: n,
    time: 1_700_000_000_000 + n,
    op: 'appended',
    versionBefore: null,
    versionAfter: 1,
    chunksAdded: [fakeHash(n + 1_000_000)],
    chunksRemoved: [],
    rowsAdded: 1,
    rowsRemoved: 0,
    ...over,
  };
}

/**
 * Takes `count` items from an async iterable, then returns it (ending the iterator). Fails instead of
 * hanging forever if fewer arrive within `timeoutMs` (a guard, not an assertion on speed).
 */
export async function take<T>(iterable: AsyncIterable<T>, count: number, timeoutMs = 20_000): Promise<T[]> {
  const out: T[] = [];
  if (count === 0) return out;
  const it = iterable[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${out.length} of ${count} items`)), timeoutMs);
  });
  let timedOut = false;
  try {
    while (out.length < count) {
      const r = await Promise.race([it.next(), timeout]).catch((err: unknown) => {
        timedOut = true;
        throw err;
      });
      if (r.done) break;
      out.push(r.value);
    }
  } finally {
    clearTimeout(timer);
    // Awaited: a durable subscription saves its cursor on return(). After a timeout a next() is still
    // pending and return() would wait behind it, so it is not awaited then.
    if (timedOut) void it.return?.();
    else await it.return?.();
  }
  return out;
}

export const tablesOf = (items: readonly DeliveredEvent[]): string[] => items.map((d) => d.event.table);
