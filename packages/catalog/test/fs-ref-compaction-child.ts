// A child process for fs-ref-compaction.test.ts (run through testkit's spawnNode; not a test file).
// Talks over stdio in lines: the parent sends `go`, `committed <n>` (some process's CAS that set the shared
// counter to n has returned) and `stop`; the child prints `ready`, `committed <n>` and a final JSON report.
//
//   worker <root> <ref> <count> <id>  increments the counter in <ref> (retrying conflicts) until `stop`, and
//                                     at least <count> times; before each increment checks that get, list,
//                                     reflog and reflogValue all show at least the highest value announced as
//                                     committed
//   compactor <root> <ref>            expires every reflog entry older than now, over and over, until `stop`
//                                     (each run that removes something compacts the log and prints
//                                     `compacted <k>`), making the same checks between runs
//   expire <root> <before>            opens the store and reads it, then on `go` runs expireReflog(before)
import { createInterface } from 'node:readline';
import { FsRefStore } from '../src/index.js';

const [mode, root, arg1, arg2, arg3] = process.argv.slice(2) as [string, string, string, string | undefined, string | undefined];
const refs = new FsRefStore({ root, lock: { timeoutMs: 30_000 } });
const hash = (n: number): string => n.toString(16).padStart(64, '0');
const numberOf = (h: string | null | undefined): number => (h === undefined || h === null ? 0 : parseInt(h, 16));

let floor = 0;
let stop = false;
let go: () => void;
const started = new Promise<void>((resolve) => (go = resolve));
const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const [word, n] = line.split(' ');
  if (word === 'go') go();
  else if (word === 'stop') stop = true;
  else if (word === 'committed') floor = Math.max(floor, Number(n));
});

const stale: string[] = [];
/** Every way of reading the counter must show at least what was announced before the read started. */
async function check(ref: string): Promise<number> {
  const min = floor;
  const value = numberOf(await refs.get(ref));
  const listed = numberOf((await refs.list(ref)).find((e) => e.name === ref)?.value);
  const logged = numberOf((await refs.reflog(ref, { limit: 1 }))[0]?.new);
  const valued = numberOf((await refs.reflogValue(ref, Infinity))?.value);
  for (const [how, v] of [['get', value], ['list', listed], ['reflog', logged], ['reflogValue', valued]] as const) {
    if (v < min) stale.push(`${how} gave ${v} after ${min} was committed`);
  }
  return value;
}

await refs.get('warm-up'); // opens and reads the log before the parent starts the clock
process.stdout.write('ready\n');
await started;

if (mode === 'worker') {
  const [ref, count, id] = [arg1, Number(arg2), arg3];
  let done = 0;
  let conflicts = 0;
  while (!stop || done < count) {
    const n = await check(ref);
    try {
      await refs.compareAndSwap(ref, n === 0 ? null : hash(n), hash(n + 1), { author: id });
      done++;
      process.stdout.write(`committed ${n + 1}\n`);
    } catch (err) {
      if ((err as { code?: string }).code !== 'REF_CONFLICT') throw err;
      conflicts++;
    }
  }
  await refs.close();
  process.stdout.write(`${JSON.stringify({ id, done, conflicts, stale })}\n`);
} else if (mode === 'compactor') {
  let compactions = 0;
  let removed = 0;
  while (!stop) {
    const r = await refs.expireReflog(Date.now());
    if (r.entriesRemoved > 0) process.stdout.write(`compacted ${++compactions}\n`);
    removed += r.entriesRemoved;
    await check(arg1);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await refs.close();
  process.stdout.write(`${JSON.stringify({ id: 'compactor', compactions, removed, stale })}\n`);
} else if (mode === 'expire') {
  const r = await refs.expireReflog(Number(arg1));
  process.stdout.write(`expired ${JSON.stringify(r)}\n`);
} else {
  throw new Error(`unknown mode ${mode}`);
}
input.close();
process.stdin.destroy(); // nothing else keeps the process alive: it exits once stdout is flushed
