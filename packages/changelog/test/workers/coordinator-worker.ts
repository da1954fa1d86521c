// One transaction through the coordinator in its own process; env ARMILLARIA_FAULT picks where it dies.
// Usage: coordinator-worker.ts <dir> <n> [<natsUrl> <stream> <prefix>]
import { openCoordinatorStack } from '../coordinator-stack.js';

const [dir, n, url, stream, prefix] = process.argv.slice(2) as [string, string, string?, string?, string?];
const stack = await openCoordinatorStack(dir, url && stream && prefix ? { url, stream, prefix } : undefined);
const c = stack.coordinator;
const t = await c.begin({ repo: 'crash' });
await c.upsert(t.id, 'kv', [{ id: Number(n), v: `crash-${n}` }]);
await c.append(t.id, 'log', [{ id: Number(n), v: `crash-${n}` }]);
const result = await c.commit(t.id, { message: `crash ${n}` });
await stack.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
