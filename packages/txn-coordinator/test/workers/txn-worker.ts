// A coordinator in its own process, for the bank and crash tests (and nothing else).
// Usage: txn-worker.ts bank <dir> <mode> <prefix> <client> <iterations> <seed> <accounts> <busFile>
//        txn-worker.ts crash <dir> <mode> <prefix> <n> <busFile> <idFile> [group]   (env ARMILLARIA_FAULT picks where it dies)
import { writeFileSync } from 'node:fs';
import { isArmillariaError, ErrorCode } from '@armillaria/core';
import { RecordingChangeBus } from '../helpers/recording-change-bus.js';
import { openStack } from '../helpers/stack.js';
import { seededRandom as rng } from '@armillaria/testkit';
const [cmd, dir, ...rest] = process.argv.slice(2);


if (cmd === 'bank') {
  const [mode, prefix, client, iterations, seed, accounts, busFile] = rest as [string, string, string, string, string, string, string];
  const stack = await openStack({ dir: dir as string, mode: mode as 'embedded' | 'distributed', prefix, bus: new RecordingChangeBus(busFile), recoveryIntervalMs: 0 });
  const c = stack.coordinator;
  const random = rng(Number(seed));
  const n = Number(accounts);
  const committed: string[] = [];
  let conflicts = 0;
  let aborted = 0;
  for (let i = 0; i < Number(iterations); i++) {
    const transfer = `${client}-${i}`;
    // Retry a transfer until it commits (or is deliberately abandoned): conflicts are expected.
    for (let attempt = 0; ; attempt++) {
      const t = await c.begin({ repo: 'bank' });
      const rows = (await c.read(t.id, 'accounts')).toArray().map((r) => r.toJSON() as { id: bigint; balance: bigint });
      const from = Math.floor(random() * n);
      const to = (from + 1 + Math.floor(random() * (n - 1))) % n;
      const balance = rows.find((r) => Number(r.id) === from)?.balance ?? 0n;
      const amount = BigInt(1 + Math.floor(random() * 20));
      if (random() < 0.05 || balance < amount) {
        await c.abort(t.id, 'client gave up');
        aborted++;
        break;
      }
      const toBalance = rows.find((r) => Number(r.id) === to)?.balance ?? 0n;
      await c.upsert(t.id, 'accounts', [{ id: from, balance: balance - amount }, { id: to, balance: toBalance + amount }]);
      await c.upsert(t.id, 'ledger', [{ id: transfer, src: from, dst: to, amount }]);
      try {
        await c.commit(t.id, { message: `transfer ${transfer}`, author: client, idempotencyKey: transfer });
        committed.push(transfer);
        break;
      } catch (err) {
        if (!isArmillariaError(err, ErrorCode.TxnConflict)) throw err;
        conflicts++;
      }
    }
  }
  await stack.close();
  process.stdout.write(`${JSON.stringify({ client, committed, conflicts, aborted })}\n`);
  // Exit even if a client library keeps a socket open: the result is printed (pipes are synchronous on Linux).
  process.exit(0);
} else if (cmd === 'crash') {
  // <group> transactions commit at once (one group commit: a chain, one ref move); the fault hits that group.
  const [mode, prefix, n, busFile, idFile, group = '1'] = rest as [string, string, string, string, string, string?];
  const stack = await openStack({ dir: dir as string, mode: mode as 'embedded' | 'distributed', prefix, bus: new RecordingChangeBus(busFile), recoveryIntervalMs: 0, staleAfterMs: 0 });
  const c = stack.coordinator;
  const txns = await Promise.all(Array.from({ length: Number(group) }, () => c.begin({ repo: 'crash' })));
  writeFileSync(idFile, txns.map((t) => t.id).join('\n'));
  for (const [j, t] of txns.entries()) {
    await c.upsert(t.id, 'kv', [{ id: 1000 + Number(n) * 100 + j, v: `crash-${n}-${j}` }]);
    await c.append(t.id, 'events', [{ msg: `crash-${n}-${j}` }]);
  }
  const results = await Promise.all(txns.map((t, j) => c.commit(t.id, { message: `crash ${n}-${j}` })));
  await stack.close();
  process.stdout.write(`${JSON.stringify(results)}\n`);
  process.exit(0);
} else {
  process.stderr.write(`unknown command ${cmd}\n`);
  process.exit(2);
}
