/** One waiter of a `BranchQueue`. */
export interface QueueItem<T, R> {
  value: T;
  /** Must be the only item of its batch (e.g. a commit whose tree needs its parent's hash). */
  solo: boolean;
  /** Items with the same tag never share a batch (e.g. an idempotency key: the second waits for the first). */
  tag: string | undefined;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/**
 * Group commit's waiting room: per key (repo + branch), commits of this process queue up while one
 * batch is in its turn; when the turn ends, the next turn takes every waiter (up to `maxBatch`, in
 * arrival order) at once. One turn at a time per key, so writers of one process never race each
 * other for the branch; other processes still do, and lose cleanly.
 *
 * `runBatch` must settle every item of its batch (resolve or reject). It may settle some after it
 * returns (work after the branch moved); the next turn starts as soon as it returns. If it throws,
 * the items it left unsettled are rejected with the error.
 */
export class BranchQueue<T, R> {
  private readonly waiting = new Map<string, Array<QueueItem<T, R>>>();
  private readonly running = new Set<string>();

  constructor(private readonly maxBatch: number, private readonly runBatch: (key: string, batch: Array<QueueItem<T, R>>) => Promise<void>) {}

  push(key: string, value: T, opts: { solo?: boolean; tag?: string } = {}): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let list = this.waiting.get(key);
      if (!list) this.waiting.set(key, (list = []));
      list.push({ value, solo: opts.solo ?? false, tag: opts.tag, resolve, reject });
      if (!this.running.has(key)) void this.drain(key);
    });
  }

  private async drain(key: string): Promise<void> {
    this.running.add(key);
    try {
      // Let commits issued in the same tick as this one join its turn (instead of waiting a turn).
      await new Promise((resolve) => setImmediate(resolve));
      for (let list = this.waiting.get(key); list && list.length > 0; list = this.waiting.get(key)) {
        const batch = this.take(list);
        if (list.length === 0) this.waiting.delete(key);
        const settled = new Set<QueueItem<T, R>>();
        const tracked = batch.map((item) => ({
          ...item,
          resolve: (r: R) => (settled.add(item), item.resolve(r)),
          reject: (e: unknown) => (settled.add(item), item.reject(e)),
        }));
        try {
          await this.runBatch(key, tracked);
        } catch (err) {
          for (const item of batch) if (!settled.has(item)) item.reject(err);
        }
      }
    } finally {
      this.running.delete(key);
    }
  }

  /**
   * The next batch: up to `maxBatch` items in order, cut before a solo item (a solo item goes alone)
   * and before an item whose tag is already in the batch.
   */
  private take(list: Array<QueueItem<T, R>>): Array<QueueItem<T, R>> {
    let n = 1;
    if (!list[0]?.solo) {
      const tags = new Set([list[0]?.tag]);
      for (; n < list.length && n < this.maxBatch; n++) {
        const item = list[n] as QueueItem<T, R>;
        if (item.solo || (item.tag !== undefined && tags.has(item.tag))) break;
        tags.add(item.tag);
      }
    }
    return list.splice(0, n);
  }
}
