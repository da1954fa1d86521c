// `npm run demo`: the whole seed story in embedded mode, through the SDK, on a temp directory.
// Write, query, time travel, diff, branch, merge, a cross-table transaction, a live subscription, a revert and compaction.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Armillaria, MergeConflictError, type ChangeEvent, type QueryResult } from '@armillaria/sdk';

const dir = await mkdtemp(join(tmpdir(), 'armillaria-demo-'));
const step = (title: string): void => console.log(`\n== ${title}`);
const show = (r: QueryResult): void => console.table(r.rows);

const arm = await Armillaria.open(dir);
try {
  console.log(`Armillaria demo: embedded data directory ${dir}, repo "${arm.repo}", branch "${arm.branch}"`);

  step('1. write a keyed table (version 1) and query it with SQL');
  await arm.writeTable('users', [
    { id: 1, name: 'ada', score: 90 },
    { id: 2, name: 'bob', score: 70 },
    { id: 3, name: 'cy', score: 50 },
  ], { primaryKey: ['id'] });
  show(await arm.query('SELECT id, name, score FROM users ORDER BY id'));
  show(await arm.query('SELECT AVG(score) AS avg_score FROM users'));
  await arm.tag('v1.0');

  step('2. change it: upsert (version 2), delete (version 3)');
  await arm.upsert('users', [{ id: 2, name: 'bob', score: 85 }, { id: 4, name: 'dee', score: 100 }]);
  await arm.deleteRows('users', [{ id: 3 }]);
  show(await arm.query('SELECT id, name, score FROM users ORDER BY id'));

  step('3. time travel: version 1, the tag v1.0, and the diff between versions 1 and 3');
  show(await arm.query('SELECT AVG(score) AS avg_score_v1 FROM users', { versions: { users: 1 } }));
  show(await arm.query('SELECT COUNT(*) AS users_at_v1_0 FROM users', { asOf: 'v1.0' }));
  const d = await arm.diffVersions('users', 1, 3, { keyColumns: ['id'] });
  console.log('added:', d.added, '\nremoved:', d.removed, '\nchanged:', d.changed.map((c) => ({ key: c.key, before: c.before.score, after: c.after.score })));

  step('4. branch: experiment/x gets a new table and a change; main is untouched');
  await arm.createBranch('experiment/x');
  arm.checkout('experiment/x');
  await arm.writeTable('scores', [{ user: 1, points: 5 }, { user: 2, points: 7 }]);
  await arm.upsert('users', [{ id: 5, name: 'eve', score: 60 }]);
  show(await arm.query('SELECT COUNT(*) AS users_on_branch FROM users'));
  arm.checkout('main');
  show(await arm.query('SELECT COUNT(*) AS users_on_main FROM users'));

  step('5. merge experiment/x into main');
  const merged = await arm.mergeBranch('experiment/x', { into: 'main' });
  console.log(`merge: ${merged.kind}, main now at ${merged.commit.hash.slice(0, 12)}`);
  show(await arm.query('SELECT u.name, s.points FROM scores s JOIN users u ON u.id = s.user ORDER BY u.name'));

  step('6. a conflicting merge is refused with a typed error');
  await arm.createBranch('left');
  await arm.createBranch('right');
  await arm.upsert('users', [{ id: 1, name: 'ada', score: 1 }], { branch: 'left' });
  await arm.upsert('users', [{ id: 1, name: 'ada', score: 2 }], { branch: 'right' });
  await arm.mergeBranch('left');
  try {
    await arm.mergeBranch('right');
  } catch (err) {
    if (!(err instanceof MergeConflictError)) throw err;
    console.log(`${err.name} (${err.code}): ${err.message}`);
  }

  step('6b. branches that update different columns of the same row merge cell by cell');
  await arm.createBranch('rename');
  await arm.createBranch('rescore');
  await arm.upsert('users', [{ id: 4, name: 'Dee' }], { branch: 'rename' }); // a partial upsert: score stays
  await arm.upsert('users', [{ id: 4, score: 99 }], { branch: 'rescore' });
  await arm.mergeBranch('rename');
  const cells = await arm.mergeBranch('rescore');
  console.log(`merge: ${cells.kind}, ${cells.resolved.length} conflicts`);
  show(await arm.query('SELECT id, name, score FROM users WHERE id = 4'));

  step('7. subscribe to orders (replay from the beginning, then live), and a cross-table transaction');
  const received: ChangeEvent[] = [];
  const sub = arm.subscribe('orders', { from: 'earliest', rows: true })[Symbol.asyncIterator]();
  const tx = await arm.transaction(async (t) => {
    await t.writeTable('customers', [{ id: 1, name: 'acme' }, { id: 2, name: 'globex' }], { primaryKey: ['id'] });
    await t.appendRows('orders', [{ order_id: 1, customer: 1, total: 10.5 }, { order_id: 2, customer: 2, total: 4.5 }]);
  });
  console.log(`transaction committed ${tx.tables.join(' + ')} in one commit ${tx.commit.slice(0, 12)}`);
  try {
    await arm.transaction(async (t) => {
      await t.appendRows('orders', [{ order_id: 3, customer: 1, total: 99 }]);
      throw new Error('payment declined');
    });
  } catch (err) {
    console.log(`a throwing transaction is aborted: "${(err as Error).message}"; orders still has`, (await arm.query('SELECT COUNT(*) AS n FROM orders')).rows[0]?.n, 'rows');
  }
  received.push((await sub.next()).value as ChangeEvent);
  await arm.appendRows('orders', [{ order_id: 3, customer: 2, total: 12 }]);
  received.push((await sub.next()).value as ChangeEvent);
  await sub.return?.();
  for (const e of received) console.log(`change: ${e.op} ${e.table} v${e.versionAfter} (+${e.rowsAdded} rows) commit ${e.commit.slice(0, 12)}`, e.rows?.map((r) => r.kind === 'insert' ? r.after : r));
  show(await arm.query('SELECT c.name, SUM(o.total) AS total FROM orders o JOIN customers c ON c.id = o.customer GROUP BY c.name ORDER BY c.name'));

  step('8. history');
  for (const e of await arm.log({ limit: 6 })) console.log(`${e.hash.slice(0, 12)} ${e.message}`);
  console.log('\nusers versions:', (await arm.log({ table: 'users' })).map((e) => e.tableVersion).join(', '));

  step('9. undo a bad change: revert makes a new commit that inverts it');
  const oops = await arm.upsert('users', [{ id: 2, name: 'bob', score: 0 }], { message: 'oops: zeroed bob' });
  console.log('after the bad upsert:', (await arm.query('SELECT score FROM users WHERE id = 2')).rows[0]);
  const undone = await arm.revert(oops.commit, { message: 'revert "oops: zeroed bob"' });
  console.log(`revert ${oops.commit.slice(0, 12)} -> new commit ${undone.commit.slice(0, 12)}; bob again:`, (await arm.query('SELECT score FROM users WHERE id = 2')).rows[0]);

  step('10. compaction');
  // Every small append is a file of its own; compactTable rewrites them for reading, rows unchanged.
  for (let i = 0; i < 20; i++) await arm.appendRows('clicks', [{ user: i % 3, page: `/p/${i}` }]);
  const before = await arm.describeTable('clicks');
  const compacted = await arm.compactTable('clicks');
  const after = await arm.describeTable('clicks');
  console.log(`clicks: ${before.rows} rows in ${before.chunks} chunks -> ${after.rows} rows in ${after.chunks} chunk(s), version ${compacted.version}`);
  console.log('compacting again:', (await arm.compactTable('clicks')).compacted ? 'rewrote it' : 'nothing to do');
  console.log('\ndemo finished: every step above ran against the embedded store, no server.');
} finally {
  await arm.close();
  await rm(dir, { recursive: true, force: true });
}
