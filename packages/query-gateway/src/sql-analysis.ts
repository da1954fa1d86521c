import { QueryRefusedError } from './errors.js';

/** A constant bound usable for pruning: numbers (exact integers or floats) and strings. */
export type Bound = { kind: 'number'; value: number } | { kind: 'string'; value: string };

/** Inclusive range on one column (either end optional). Exclusive comparisons widen to inclusive: pruning stays conservative. */
export interface ColumnRange {
  column: string;
  min?: Bound;
  max?: Bound;
}

/** One reference to a table in the statement, with the ranges its WHERE clause implies (empty: no pruning). */
export interface TableReference {
  table: string;
  ranges: ColumnRange[];
}

export interface SqlAnalysis {
  /** Every reference to a name that is not a CTE in scope: the engine's views (or unknown tables). */
  references: TableReference[];
}

/** Table functions that read nothing outside the query. Every other one (read_csv, glob, query_table, ...) is refused. */
const ALLOWED_TABLE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest']);

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Walks the AST of DuckDB's `json_serialize_sql` (which only serializes SELECT-like statements: the
 * caller refuses the rest). Collects table references with proper CTE scoping — a name that is not a CTE
 * in scope must be one of the repo's tables, so file paths used as tables (`FROM 'x.parquet'`, a
 * replacement scan) never reach DuckDB — and refuses table functions and qualified names.
 */
export function analyzeStatement(statement: Node): SqlAnalysis {
  const references: TableReference[] = [];
  const predicates = new WeakMap<Node, ColumnRange[]>();

  const visit = (value: unknown, scope: ReadonlyArray<string>): void => {
    if (Array.isArray(value)) {
      for (const v of value) visit(v, scope);
      return;
    }
    if (!isNode(value)) return;
    let inner = scope;
    const cteMap = value.cte_map;
    if (isNode(cteMap) && Array.isArray(cteMap.map)) {
      const names: string[] = [];
      for (const entry of cteMap.map as unknown[]) {
        if (!isNode(entry) || typeof entry.key !== 'string') continue;
        names.push(entry.key.toLowerCase());
        // A CTE body sees the CTEs before it and itself (recursive ones), never later ones.
        visit(entry.value, [...scope, ...names]);
      }
      inner = [...scope, ...names];
    }
    if (value.type === 'SELECT_NODE') {
      const from = value.from_table;
      if (isNode(from) && from.type === 'BASE_TABLE') predicates.set(from, rangesOf(value.where_clause, from));
    }
    if (value.type === 'BASE_TABLE') {
      const name = String(value.table_name ?? '');
      if (value.schema_name || value.catalog_name) {
        throw new QueryRefusedError(`qualified table names are not allowed (${[value.catalog_name, value.schema_name, name].filter(Boolean).join('.')}): name the repo's tables directly`, { table: name });
      }
      if (!inner.includes(name.toLowerCase())) references.push({ table: name, ranges: predicates.get(value) ?? [] });
    }
    if (value.type === 'TABLE_FUNCTION') {
      const fn = isNode(value.function) ? String(value.function.function_name ?? '') : '';
      if (!ALLOWED_TABLE_FUNCTIONS.has(fn.toLowerCase())) {
        throw new QueryRefusedError(`table function ${fn}() is not allowed: queries read only the repo's tables (allowed: ${[...ALLOWED_TABLE_FUNCTIONS].join(', ')})`, { function: fn });
      }
    }
    for (const [key, child] of Object.entries(value)) {
      if (key === 'cte_map') continue;
      if (typeof child === 'object' && child !== null) visit(child, inner);
    }
  };
  visit(statement, []);
  return { references };
}

/** Ranges implied by a WHERE clause on a single-table SELECT: AND of simple comparisons; anything else implies nothing. */
function rangesOf(where: unknown, table: Node): ColumnRange[] {
  if (!isNode(where)) return [];
  const alias = String(table.alias || table.table_name || '').toLowerCase();
  const out: ColumnRange[] = [];
  const column = (e: unknown): string | undefined => {
    if (!isNode(e) || e.class !== 'COLUMN_REF' || !Array.isArray(e.column_names)) return undefined;
    const names = e.column_names as string[];
    if (names.length === 1) return names[0];
    if (names.length === 2 && names[0]!.toLowerCase() === alias) return names[1];
    return undefined;
  };
  const walk = (e: Node): void => {
    if (e.type === 'CONJUNCTION_AND' && Array.isArray(e.children)) {
      for (const c of e.children) if (isNode(c)) walk(c);
      return;
    }
    if (e.class === 'COMPARISON') {
      let col = column(e.left);
      let bound = constant(e.right);
      let op = String(e.type);
      if (col === undefined) {
        col = column(e.right);
        bound = constant(e.left);
        op = flip[op] ?? '';
      }
      if (col === undefined || bound === undefined) return;
      if (op === 'COMPARE_EQUAL') out.push({ column: col, min: bound, max: bound });
      else if (op === 'COMPARE_GREATERTHAN' || op === 'COMPARE_GREATERTHANOREQUALTO') out.push({ column: col, min: bound });
      else if (op === 'COMPARE_LESSTHAN' || op === 'COMPARE_LESSTHANOREQUALTO') out.push({ column: col, max: bound });
      return;
    }
    if (e.type === 'COMPARE_BETWEEN') {
      const col = column(e.input);
      const lo = constant(e.lower);
      const hi = constant(e.upper);
      if (col !== undefined && lo && hi) out.push({ column: col, min: lo, max: hi });
      return;
    }
    if (e.type === 'COMPARE_IN' && Array.isArray(e.children) && e.children.length > 1) {
      const col = column(e.children[0]);
      const values = (e.children as unknown[]).slice(1).map(constant);
      if (col === undefined || values.some((v) => v === undefined)) return;
      const bounds = values as Bound[];
      if (bounds.some((b) => b.kind !== bounds[0]!.kind)) return;
      const sorted = [...bounds].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
      out.push({ column: col, min: sorted[0]!, max: sorted[sorted.length - 1]! });
    }
  };
  walk(where);
  return out;
}

const flip: Record<string, string> = {
  COMPARE_EQUAL: 'COMPARE_EQUAL',
  COMPARE_LESSTHAN: 'COMPARE_GREATERTHAN',
  COMPARE_LESSTHANOREQUALTO: 'COMPARE_GREATERTHANOREQUALTO',
  COMPARE_GREATERTHAN: 'COMPARE_LESSTHAN',
  COMPARE_GREATERTHANOREQUALTO: 'COMPARE_LESSTHANOREQUALTO',
};

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT']);

/** A plain literal as a bound; anything needing care (huge integers that JSON lost, casts, NULL) gives undefined. */
function constant(e: unknown): Bound | undefined {
  if (!isNode(e) || e.class !== 'CONSTANT' || !isNode(e.value) || e.value.is_null) return undefined;
  const v = e.value.value;
  const type = e.value.type;
  const typeId = isNode(type) ? String(type.id) : '';
  if (typeId === 'VARCHAR' && typeof v === 'string') return { kind: 'string', value: v };
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  // JSON.parse rounds integers past 2^53: such a literal is not what the user wrote.
  if (INTEGER_TYPES.has(typeId)) return Number.isSafeInteger(v) ? { kind: 'number', value: v } : undefined;
  if (typeId === 'DOUBLE' || typeId === 'FLOAT') return { kind: 'number', value: v };
  const info = isNode(type) ? type.type_info : undefined;
  if (typeId === 'DECIMAL' && Number.isSafeInteger(v) && isNode(info)) {
    const scale = Number(info.scale ?? 0);
    return { kind: 'number', value: v / 10 ** scale };
  }
  return undefined;
}
