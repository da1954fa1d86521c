import { InvalidArgumentError } from '@armillaria/core';
import type { QueryResult } from '@armillaria/sdk';

export const OUTPUT_FORMATS = ['table', 'json', 'csv', 'arrow'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function outputFormat(value: string): OutputFormat {
  if (!(OUTPUT_FORMATS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}, not ${JSON.stringify(value)}`, { details: { field: 'format' } });
  }
  return value as OutputFormat;
}

/** Renders a query result: an aligned text table, JSON rows, CSV, or an Arrow IPC stream (bytes). */
export async function renderResult(result: QueryResult, format: OutputFormat): Promise<string | Uint8Array> {
  const names = result.columns.map((c) => c.name);
  switch (format) {
    case 'json':
      return `${JSON.stringify(result.rows)}\n`;
    case 'csv':
      return [names.map(csvCell).join(','), ...result.rows.map((r) => names.map((n) => csvCell(r[n])).join(','))].join('\n') + '\n';
    case 'arrow':
      return (await import('apache-arrow')).tableToIPC(result.toArrow(), 'stream');
    default:
      return textTable(names, result.rows.map((r) => names.map((n) => r[n]))) + `(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})\n`;
  }
}

/** `n` and the noun, singular for one: "1 row", "3 rows". */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

export function textTable(header: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  const cells = rows.map((r) => r.map(show));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.map(line)].join('\n') + '\n';
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The conflicts a MERGE_CONFLICT error carries, as a text table: per row conflict, only the columns the sides disagree on. */
export function conflictTable(conflicts: ReadonlyArray<Record<string, unknown>>, limit = 20): string {
  const rows = conflicts.slice(0, limit).map((c) => {
    const [base, ours, theirs] = [c.base, c.ours, c.theirs] as Array<Record<string, unknown> | null | undefined>;
    const cols = [...new Set([...Object.keys(ours ?? {}), ...Object.keys(theirs ?? {})])]
      .filter((k) => JSON.stringify(ours?.[k]) !== JSON.stringify(theirs?.[k]) || JSON.stringify(ours?.[k]) !== JSON.stringify(base?.[k]));
    const side = (r: Record<string, unknown> | null | undefined): string => (r === null ? '(deleted)' : r === undefined ? '' : JSON.stringify(Object.fromEntries(cols.map((k) => [k, r[k]]))));
    return [c.table, c.key === undefined ? '' : JSON.stringify(c.key), c.reason, side(base), side(ours), side(theirs)];
  });
  const more = conflicts.length > limit ? `… and ${conflicts.length - limit} more\n` : '';
  return textTable(['table', 'key', 'conflict', 'base', 'ours (into)', 'theirs (source)'], rows) + more;
}

export interface RowChanges {
  keyColumns?: readonly string[] | null;
  added: ReadonlyArray<Record<string, unknown>>;
  removed: ReadonlyArray<Record<string, unknown>>;
  changed: ReadonlyArray<{ key: unknown[]; before: Record<string, unknown>; after: Record<string, unknown> }>;
}

/**
 * A row diff for reading: a count line, then `+` added rows, `-` removed rows and `~` changed rows (key, then
 * only the columns that changed, before -> after); at most `limit` lines of each kind.
 */
export function rowDiffText(title: string, d: RowChanges, limit = 50): string {
  const out = [`${title}: +${d.added.length} -${d.removed.length} ~${d.changed.length}${d.keyColumns?.length ? ` (by ${d.keyColumns.join(', ')})` : ''}`];
  const some = <T>(list: readonly T[], line: (x: T) => string): void => {
    for (const x of list.slice(0, limit)) out.push(line(x));
    if (list.length > limit) out.push(`  … ${list.length - limit} more (--json for all)`);
  };
  some(d.added, (r) => `+ ${JSON.stringify(r)}`);
  some(d.removed, (r) => `- ${JSON.stringify(r)}`);
  some(d.changed, (c) => {
    const cols = Object.keys(c.after).filter((k) => JSON.stringify(c.before[k]) !== JSON.stringify(c.after[k]));
    return `~ ${JSON.stringify(c.key)} ${cols.map((k) => `${k}: ${JSON.stringify(c.before[k])} -> ${JSON.stringify(c.after[k])}`).join(', ')}`;
  });
  return `${out.join('\n')}\n`;
}
