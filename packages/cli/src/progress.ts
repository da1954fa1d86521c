/**
 * A one-line progress bar on stderr: rows done, rows/s, and a bar when the total is known. It redraws
 * at most every `intervalMs` and only on a terminal (a log file gets one final line, no escape codes).
 */
export class Progress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private done = 0;
  private finishedAt: number | undefined;

  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly intervalMs = 100,
  ) {}

  /** Counts `done` rows; draws unless `draw` is false (the rate still counts them). */
  update(done: number, draw = true): void {
    this.done = done;
    const now = Date.now();
    if (!draw || !this.out.isTTY || now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    this.out.write(`\r${this.line()}\x1b[K`);
  }

  /** Prints the final line; `rate()` is frozen from here on. */
  finish(): void {
    this.finishedAt ??= Date.now();
    this.out.write(`${this.out.isTTY ? '\r' : ''}${this.line()}${this.out.isTTY ? '\x1b[K' : ''}\n`);
  }

  /** Rows per second so far. */
  rate(): number {
    const secs = Math.max(0.001, ((this.finishedAt ?? Date.now()) - this.started) / 1000);
    return this.done / secs;
  }

  private line(): string {
    const rate = `${Math.round(this.rate()).toLocaleString('en-US')} rows/s`;
    const count = `${this.done.toLocaleString('en-US')}${this.total !== undefined ? `/${this.total.toLocaleString('en-US')}` : ''} rows`;
    if (!this.total) return `${this.label} ${count} ${rate}`;
    const width = 30;
    const filled = Math.min(width, Math.round((this.done / this.total) * width));
    const pct = Math.min(100, Math.floor((this.done / this.total) * 100));
    return `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct}% ${count} ${rate}`;
  }
}
