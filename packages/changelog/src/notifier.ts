/**
 * Wakes waiting readers when something new is there. `wait` resolves on the next `notify`, on abort
 * of `signal`, or at once if already closed; readers re-check their own state after each wake-up, so a
 * wake-up carries no data and nothing is buffered per reader.
 */
export class Notifier {
  private waiters = new Set<() => void>();
  private closed = false;

  notify(): void {
    const waiting = this.waiters;
    this.waiters = new Set();
    for (const wake of waiting) wake();
  }

  close(): void {
    this.closed = true;
    this.notify();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  wait(signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }
}
