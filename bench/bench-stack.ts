/**
 * The storage stack the benches measure: the transaction tests' `openStack` (the parts `Armillaria.open`
 * / `armillaria serve` assemble), embedded (objects, refs and txn log on local disk under `dir`) or
 * distributed (objects in MinIO under a fresh prefix, refs and txn log in Redis, from the
 * ARMILLARIA_S3_* / ARMILLARIA_REDIS_URL variables). One assembly for tests and benches alike.
 */
import { randomUUID } from 'node:crypto';
import { openStack, type Stack } from '../packages/txn-coordinator/test/helpers/stack.js';

export type StackMode = 'embedded' | 'distributed';

/** Closes everything opened here (not `dir`: the caller owns it). */
export type BenchStack = Stack;

export async function openBenchStack(mode: StackMode, dir: string, opts: { name: string; bucket: string }): Promise<BenchStack> {
  return openStack({ mode, dir, prefix: `${opts.name}-${randomUUID()}`, bucket: opts.bucket, recoveryIntervalMs: 0 });
}
