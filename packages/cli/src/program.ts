import { mkdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command, InvalidArgumentError as CommanderArgumentError } from 'commander';
import { ErrorCode, InvalidArgumentError, isArmillariaError } from '@armillaria/core';
import type { Armillaria, SubscribeFrom } from '@armillaria/sdk';
import { openTarget, saveCheckout, targetOf, type GlobalOptions } from './context.js';
import { IMPORT_MODES, importFile } from './import-file.js';
import { conflictTable, counted, outputFormat, renderResult, rowDiffText, textTable } from './output.js';

/** Where commands write: stdout for results, stderr for progress and errors (tests pass their own). */
export interface Io {
  out(text: string | Uint8Array): void;
  err(text: string): void;
}

const stdio: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

function int(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new CommanderArgumentError('expected a non-negative integer');
  return n;
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

const short = (hash: string): string => hash.slice(0, 12);

/** `--from` of `tail`: latest | earliest | version:N | commit:<hash> | an ISO time. */
function parseFrom(value: string): SubscribeFrom {
  if (value === 'latest' || value === 'earliest') return value;
  if (value.startsWith('version:')) return { version: int(value.slice(8)) };
  if (value.startsWith('commit:')) return { commit: value.slice(7) };
  if (!Number.isNaN(Date.parse(value))) return { time: value };
  throw new CommanderArgumentError('expected latest, earliest, version:N, commit:<hash> or an ISO time');
}

/** The `armillaria` command. `io` lets tests capture output; `main.ts` uses the real streams. */
export function buildProgram(io: Io = stdio): Command {
  const program = new Command('armillaria')
    .description('Versioned, transactional, streaming tables: embedded (--data) or remote (--url / ARMILLARIA_URL)')
    .option('--data <dir>', 'embedded data directory (default ARMILLARIA_DATA_DIR or ./.armillaria)')
    .option('--url <url>', 'gateway URL for remote mode (default ARMILLARIA_URL)')
    .option('--token <token>', 'API token for remote mode (default ARMILLARIA_TOKEN)')
    .option('--repo <name>', 'repository (default ARMILLARIA_REPO or "default")')
    .showHelpAfterError()
    // Throw instead of process.exit (inherited by every subcommand added below): main.ts sets the exit code.
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });

  /** Runs `fn` with the SDK opened on the target, then closes it. */
  const withArm = (cmd: Command, extra: Partial<GlobalOptions> = {}) => async <T>(fn: (arm: Armillaria) => Promise<T>): Promise<T> => {
    const { arm } = await openTarget({ ...(cmd.optsWithGlobals() as GlobalOptions), ...extra });
    try {
      return await fn(arm);
    } finally {
      await arm.close();
    }
  };

  /** For `.catch`: a MERGE_CONFLICT's conflicts and `hint` go to stderr before the one-line error. */
  const explainConflicts = (hint: string) => (err: unknown): never => {
    if (isArmillariaError(err, ErrorCode.MergeConflict)) {
      io.err(conflictTable((err.details?.conflicts ?? []) as Array<Record<string, unknown>>));
      io.err(`${hint}\n`);
    }
    throw err;
  };

  program.command('init')
    .description('create the data directory (embedded) and the repository')
    .action(async (_o, cmd: Command) => {
      const t = targetOf(cmd.optsWithGlobals() as GlobalOptions);
      if (t.kind === 'embedded') await mkdir(t.location, { recursive: true });
      await withArm(cmd)(async (arm) => io.out(`initialised repo ${arm.repo} (${arm.mode}: ${t.location}), branch ${arm.branch}\n`));
    });

  program.command('serve')
    .description('run the gateway with every service in this process (embedded data directory)')
    .option('--host <host>', 'listen address (default ARMILLARIA_HOST or 127.0.0.1)')
    .option('--port <port>', 'listen port (default ARMILLARIA_PORT or 8080; 0 picks a free one)', int)
    .action(async (o: { host?: string; port?: number }, cmd: Command) => {
      const t = targetOf(cmd.optsWithGlobals() as GlobalOptions);
      if (t.kind === 'remote') throw new InvalidArgumentError('serve runs the embedded services: give --data, not --url', { details: { field: 'url' } });
      const { serve } = await import('./serve.js');
      await serve({ dataDir: t.location, ...(o.host ? { host: o.host } : {}), ...(o.port !== undefined ? { port: o.port } : {}), log: io.err });
    });

  program.command('import')
    .description('import a CSV, Parquet or JSON-lines file into a table, as one commit')
    .argument('<file>', 'file to read (.csv, .parquet, .jsonl/.ndjson)')
    .requiredOption('--table <name>', 'table to create or change')
    .option('--key <columns>', 'primary key column(s), comma-separated (used when the table is created)', list)
    .option('--format <format>', 'csv | parquet | jsonl (default: from the extension)')
    .option('--replace', 'overwrite the table instead of appending')
    .option('--upsert', 'insert the rows or replace those with the same primary key (keyed tables)')
    .option('--delete', 'delete the rows whose primary key is in the file (other columns ignored)')
    .option('--branch <branch>', 'branch to write (default: checked out)')
    .option('--batch-rows <n>', 'rows per staged batch (default 100000)', int)
    .option('--no-progress', 'no progress bar')
    .action(async (file: string, o: { table: string; key?: string[]; format?: string; replace?: boolean; upsert?: boolean; delete?: boolean; branch?: string; batchRows?: number; progress: boolean }, cmd: Command) => {
      const modes = IMPORT_MODES.filter((m) => m !== 'append' && o[m]);
      if (modes.length > 1) throw new InvalidArgumentError(`give at most one of --replace, --upsert and --delete, not ${modes.map((m) => `--${m}`).join(' and ')}`, { details: { field: 'mode' } });
      const mode = modes[0] ?? 'append';
      await withArm(cmd)(async (arm) => {
        const r = await importFile(arm, file, {
          table: o.table, mode, ...(o.key ? { key: o.key } : {}), ...(o.format ? { format: o.format } : {}),
          ...(o.batchRows ? { batchRows: o.batchRows } : {}), progress: o.progress,
        });
        const did = mode === 'delete'
          ? `deleted the ${counted(r.rows, 'key')} of ${basename(file)} from ${r.table} (${counted(r.tableRows ?? 0, 'row')} left; `
          : `${mode === 'upsert' ? 'upserted' : 'imported'} ${counted(r.rows, 'row')} into ${r.table} (`;
        if (!r.commit) io.out(`nothing to import: ${file} has no rows\n`);
        else if (!r.changed) io.out(`no change: ${r.table} already holds what ${basename(file)} says (head ${short(r.commit)}, nothing committed)\n`);
        else io.out(`${did}commit ${short(r.commit)}, ${Math.round(r.rowsPerSecond)} rows/s)\n`);
      });
    });

  program.command('sql')
    .description('run a read-only SQL query (DuckDB dialect) over the tables of a branch, moment or ref')
    .argument('<query>', 'the SQL statement')
    .option('--branch <branch>', 'branch to read (default: checked out)')
    .option('--as-of <when>', 'ISO time, relative time ("3 days ago", 2.hours.ago, yesterday), commit hash or tag')
    .option('--version <table=n...>', 'pin tables to versions, e.g. --version users=1')
    .option('--format <format>', 'table | json | csv | arrow', 'table')
    .action(async (sql: string, o: { branch?: string; asOf?: string; version?: string[]; format: string }, cmd: Command) => {
      const format = outputFormat(o.format);
      const versions: Record<string, number> = {};
      for (const v of o.version ?? []) {
        const [t, n] = v.split('=');
        if (!t || n === undefined) throw new InvalidArgumentError(`--version takes table=n, not ${JSON.stringify(v)}`, { details: { field: 'version' } });
        versions[t] = int(n);
      }
      await withArm(cmd)(async (arm) => {
        const r = await arm.query(sql, { ...(o.branch ? { branch: o.branch } : {}), ...(o.asOf ? { asOf: o.asOf } : {}), ...(o.version ? { versions } : {}) });
        io.out(await renderResult(r, format));
      });
    });

  const branch = program.command('branch').description('create, list or delete branches');
  branch.command('create')
    .argument('<name>')
    .option('--from <ref>', 'branch, tag or commit to start from (default: checked out)')
    .description('create a branch (one ref; no data copied)')
    .action(async (name: string, o: { from?: string }, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        const b = await arm.createBranch(name, o.from ? { from: o.from } : {});
        io.out(`created branch ${b.name} at ${short(b.commit)}\n`);
      });
    });
  branch.command('list')
    .description('list branches (* marks the checked-out one)')
    .action(async (_o, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        for (const b of await arm.listBranches()) io.out(`${b.name === arm.branch ? '*' : ' '} ${b.name} ${short(b.commit)}\n`);
      });
    });
  branch.command('delete')
    .argument('<name>')
    .description('delete a branch (not the default one)')
    .action(async (name: string, _o, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        await arm.deleteBranch(name);
        io.out(`deleted branch ${name}\n`);
      });
    });

  program.command('checkout')
    .argument('<branch>')
    .description('make <branch> the default of later commands')
    .action(async (name: string, _o, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        arm.checkout(name);
        // Fails with BRANCH_NOT_FOUND before anything is saved.
        await arm.log({ limit: 1 });
        await saveCheckout(targetOf(cmd.optsWithGlobals() as GlobalOptions), name);
        io.out(`on branch ${name}\n`);
      });
    });

  program.command('log')
    .description('commits, newest first')
    .option('--table <table>', 'only commits that changed this table (with its version)')
    .option('--branch <branch>', 'branch (default: checked out)')
    .option('--limit <n>', 'at most n commits', int, 20)
    .option('--json', 'JSON output')
    .action(async (o: { table?: string; branch?: string; limit: number; json?: boolean }, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        const entries = await arm.log({ ...(o.table ? { table: o.table } : {}), ...(o.branch ? { branch: o.branch } : {}), limit: o.limit });
        if (o.json) return io.out(`${JSON.stringify(entries)}\n`);
        for (const e of entries) {
          const v = e.tableVersion !== undefined ? ` [${o.table} v${e.tableVersion}]` : '';
          io.out(`${short(e.hash)} ${new Date(e.time).toISOString()} ${e.author}${v} ${e.message}\n`);
        }
      });
    });

  program.command('diff')
    .description('changes between two refs, or (with --table and two numbers) two versions of a table')
    .argument('<from>', 'ref or version')
    .argument('[to]', 'ref or version (default: checked-out branch)')
    .option('--table <table>', 'only this table')
    .option('--rows', 'row-level differences')
    .option('--key <columns>', 'match rows by these columns (versions only)', list)
    .option('--limit <n>', 'rows shown per kind (added, removed, changed) in text output (default 50)', int)
    .option('--json', 'JSON output (every row, and chunk details)')
    .action(async (from: string, to: string | undefined, o: { table?: string; rows?: boolean; key?: string[]; limit?: number; json?: boolean }, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        if (o.table && /^\d+$/.test(from) && to !== undefined && /^\d+$/.test(to)) {
          const d = await arm.diffVersions(o.table, Number(from), Number(to), o.key ? { keyColumns: o.key } : {});
          if (o.json) return io.out(`${JSON.stringify({ table: d.table, from: d.from, to: d.to, keyColumns: d.keyColumns, added: d.added, removed: d.removed, changed: d.changed }, null, 2)}\n`);
          return io.out(rowDiffText(`${d.table} v${d.from} -> v${d.to}`, d, o.limit));
        }
        const target = to ?? arm.branch;
        const d = await arm.diff(from, target, { ...(o.table ? { table: o.table } : {}), ...(o.rows ? { rows: true } : {}) });
        if (o.json) return io.out(`${JSON.stringify(d, null, 2)}\n`);
        if (o.rows) {
          if (d.tables.length === 0) return io.out(`no changes between ${from} and ${target}\n`);
          return io.out(d.tables.map((t) => {
            const title = `${t.table} (${t.status}${t.from ? ` v${t.from.version}` : ''}${t.to ? ` -> v${t.to.version}` : ''})`;
            return t.rows ? rowDiffText(title, t.rows, o.limit) : `${title}: no row diff (${t.status === 'modified' ? 'no primary key in common' : t.status})\n`;
          }).join(''));
        }
        io.out(textTable(['table', 'status', 'from', 'to', '+chunks', '-chunks'], d.tables.map((t) => [
          t.table, t.status, t.from ? `v${t.from.version}` : '', t.to ? `v${t.to.version}` : '', t.chunks.added.length, t.chunks.removed.length,
        ])));
      });
    });

  program.command('merge')
    .argument('<source>', 'branch (or ref) to merge')
    .option('--into <branch>', 'target branch (default: the repo default branch)')
    .option('--strategy <strategy>', 'fail | ours | theirs', 'fail')
    .option('-m, --message <message>', 'commit message')
    .description('three-way merge; conflicts fail with MERGE_CONFLICT unless a strategy resolves them')
    .action(async (source: string, o: { into?: string; strategy: string; message?: string }, cmd: Command) => {
      if (!['fail', 'ours', 'theirs'].includes(o.strategy)) throw new InvalidArgumentError(`--strategy must be fail, ours or theirs`, { details: { field: 'strategy' } });
      await withArm(cmd)(async (arm) => {
        const r = await arm.mergeBranch(source, { ...(o.into ? { into: o.into } : {}), strategy: o.strategy as 'fail', ...(o.message ? { message: o.message } : {}) })
          .catch(explainConflicts(`nothing was written; --strategy ours keeps ${o.into ?? arm.defaultBranch}'s side of each conflict, --strategy theirs takes ${source}'s`));
        io.out(`${r.kind}: ${source} into ${o.into ?? arm.defaultBranch} at ${short(r.commit.hash)}${r.resolved.length ? ` (${counted(r.resolved.length, 'conflict')} resolved by ${o.strategy})` : ''}\n`);
      });
    });

  program.command('revert')
    .argument('<commit>', 'commit (hash, prefix or tag) whose changes to undo')
    .option('--branch <branch>', 'branch to commit on (default: checked out)')
    .option('-m, --message <message>', 'commit message')
    .description('undo one commit\'s changes with a new commit; keys changed again since fail with MERGE_CONFLICT')
    .action(async (commit: string, o: { message?: string }, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        const r = await arm.revert(commit, o.message ? { message: o.message } : {})
          .catch(explainConflicts('nothing was written: these keys changed again after the commit; change them back by hand, or upsert the values you want'));
        io.out(`reverted ${commit} on ${r.branch} at ${short(r.commit)}\n`);
      });
    });

  program.command('drop')
    .argument('<table>', 'table to drop')
    .option('--branch <branch>', 'branch to commit on (default: checked out)')
    .option('-m, --message <message>', 'commit message')
    .description('drop a table with a new commit (its history stays: --as-of an earlier commit still reads it)')
    .action(async (table: string, o: { message?: string }, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        const before = (await arm.log({ limit: 1 }))[0]?.hash;
        const r = await arm.dropTable(table, o.message ? { message: o.message } : {});
        io.out(`dropped ${table} on ${r.branch} at ${short(r.commit)}${before ? ` (still readable with --as-of ${short(before)})` : ''}\n`);
      });
    });

  program.command('restore')
    .argument('<table>', 'table to restore')
    .option('--version <n>', 'the table version to bring back', int)
    .option('--as-of <when>', 'the table as of a time ("yesterday", ISO) or a ref (commit, tag, main~3)')
    .option('--branch <branch>', 'branch to commit on (default: checked out)')
    .option('-m, --message <message>', 'commit message')
    .description('make an earlier version of a table its newest, as a new commit (zero copy, like Delta Lake\'s RESTORE)')
    .action(async (table: string, o: { version?: number; asOf?: string; message?: string }, cmd: Command) => {
      if ((o.version === undefined) === (o.asOf === undefined)) throw new InvalidArgumentError('restore takes one of --version and --as-of', { details: { field: 'version' } });
      await withArm(cmd)(async (arm) => {
        const r = await arm.restoreTable(table, { ...(o.version !== undefined ? { version: o.version } : {}), ...(o.asOf !== undefined ? { asOf: o.asOf } : {}), ...(o.message ? { message: o.message } : {}) });
        io.out(r.restored
          ? `restored ${table} as v${r.version} (${r.rows} rows) on ${arm.branch} at ${short(r.commit)}\n`
          : `${table} already holds that version (v${r.version}, ${r.rows} rows): nothing committed\n`);
      });
    });

  program.command('tag')
    .argument('[name]', 'tag to create (omitted: list tags)')
    .option('--ref <ref>', 'what to tag (default: head of the checked-out branch)')
    .option('--delete', 'delete the tag')
    .description('create, list or delete tags')
    .action(async (name: string | undefined, o: { ref?: string; delete?: boolean }, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        if (!name) {
          for (const t of await arm.listTags()) io.out(`${t.name} ${short(t.commit)}\n`);
        } else if (o.delete) {
          await arm.deleteTag(name);
          io.out(`deleted tag ${name}\n`);
        } else {
          const t = await arm.tag(name, o.ref ? { ref: o.ref } : {});
          io.out(`tagged ${short(t.commit)} as ${t.name}\n`);
        }
      });
    });

  program.command('tail')
    .argument('<table>')
    .option('--from <start>', 'latest | earliest | version:N | commit:<hash> | ISO time', parseFrom, 'latest' as SubscribeFrom)
    .option('--branch <branch>', 'branch (default: checked out)')
    .option('--rows', 'include row-level changes')
    .option('--limit <n>', 'stop after n events', int)
    .description('follow the changes of a table (JSON lines) until interrupted')
    .action(async (table: string, o: { from: SubscribeFrom; branch?: string; rows?: boolean; limit?: number }, cmd: Command) => {
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await withArm(cmd)(async (arm) => {
          let n = 0;
          if (o.limit === 0) return;
          for await (const ev of arm.subscribe(table, { from: o.from, ...(o.branch ? { branch: o.branch } : {}), ...(o.rows ? { rows: true } : {}), signal: stop.signal })) {
            io.out(`${JSON.stringify(ev)}\n`);
            if (o.limit !== undefined && ++n >= o.limit) break;
          }
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  program.command('compact')
    .argument('<table>')
    .option('--branch <branch>', 'branch (default: checked out)')
    .option('-m, --message <message>', 'commit message (default "compact <table>")')
    .description('rewrite a table for reading, same rows: fold pending merge-on-read changes, merge small appended chunks')
    .action(async (table: string, o: { branch?: string; message?: string }, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        const r = await arm.compactTable(table, { ...(o.branch ? { branch: o.branch } : {}), ...(o.message ? { message: o.message } : {}) });
        io.out(r.compacted
          ? `compacted ${table} to v${r.version} at ${short(r.commit)}: ${r.rows} rows, ${r.chunksWritten} chunks written, ${r.chunksReused} kept\n`
          : `${table} is already compact (v${r.version}, ${r.chunksReused} chunks): nothing committed\n`);
      });
    });

  program.command('gc')
    .description('delete chunks no branch, tag, recent history or open transaction needs (whole store)')
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .option('--grace <ms>', 'never delete chunks younger than this (default 1 hour)', (v) => parseMs(v, '--grace'))
    .option('--retain <ms>', 'keep unreachable history younger than this for time travel (default 7 days)', (v) => parseMs(v, '--retain'))
    .action(async (o: { dryRun?: boolean; grace?: number; retain?: number }, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        const r = await arm.gc({ dryRun: o.dryRun === true, ...(o.grace !== undefined ? { graceMs: o.grace } : {}), ...(o.retain !== undefined ? { retainHistoryMs: o.retain } : {}) });
        const mib = (b: number) => (b / 1048576).toFixed(2);
        io.out(`${r.dryRun ? 'dry run: would delete' : 'deleted'} ${r.dryRun ? r.garbage.chunks : r.deleted.chunks} chunks (${mib(r.dryRun ? r.garbage.bytes : r.deleted.bytes)} MiB); `
          + `scanned ${r.scanned.chunks}, live ${r.live.chunks}, inside grace ${r.young.chunks}`
          // A server from before reflog expiry answers without `reflog`.
          + (r.reflog ? `; expired ${r.reflog.entriesRemoved} reflog entries, forgot ${r.reflog.refsForgotten} deleted refs` : '')
          + `; ${Math.round(r.ms.total)} ms\n`);
      });
    });

  program.command('verify')
    .description('re-hash every chunk the repo needs and check all metadata; exits 1 on any problem')
    .option('--all', 'every repo of the store')
    .action(async (o: { all?: boolean }, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        const r = await arm.verify({ allRepos: o.all === true });
        for (const p of r.problems) {
          const needs = p.needs.map((n) => `${n.repo}@${short(n.commit ?? "?")}${n.table ? `:${n.table}` : ''}`).join(', ');
          io.out(`${p.kind} ${p.object} ${p.hash}: ${p.message}${needs ? ` (needed by ${needs})` : ''}\n`);
        }
        io.out(`${r.ok ? 'ok' : 'PROBLEMS'}: ${r.objects} objects, ${r.chunks} chunks re-hashed (${(r.bytes / 1048576).toFixed(2)} MiB), ${r.problems.length} problems\n`);
        if (!r.ok) process.exitCode = 1;
      });
    });

  program.command('describe')
    .argument('<table>', 'table to describe')
    .option('--branch <branch>', 'branch (default: checked out)')
    .option('--version <n>', 'table version (default: the latest)', int)
    .option('--json', 'JSON output')
    .description('a table\'s columns (type, nullable, key), rows, chunks, bytes and pending merge-on-read changes')
    .action(async (table: string, o: { version?: number; json?: boolean }, cmd: Command) => {
      await withArm(cmd)(async (arm) => {
        const d = await arm.describeTable(table, o.version !== undefined ? { version: o.version } : {});
        if (o.json) return io.out(`${JSON.stringify(d, null, 2)}\n`);
        const key = d.primaryKey ?? [];
        io.out(`${d.table} v${d.version} on ${arm.branch} (commit ${short(d.commit)})\n`);
        io.out(`${d.rows} rows, ${d.chunks} chunk${d.chunks === 1 ? '' : 's'}, ${humanBytes(d.bytes)}; ${key.length ? `primary key ${key.join(', ')}` : 'no primary key (append-only: upsert and delete need one)'}\n`);
        io.out(textTable(['column', 'type', 'nullable', 'key'], d.schema.fields.map((f) => [
          f.name, f.type, f.nullable ? 'yes' : 'no', key.includes(f.name) ? String(key.indexOf(f.name) + 1) : '',
        ])));
        if (d.pending) io.out(`pending changes: ${d.pending.rows} rows (${d.pending.deletes} deletes) kept apart from the base; reads merge them, \`armillaria compact ${d.table}\` folds them in\n`);
      });
    });

  program.command('status')
    .description('mode, repo, checked-out branch, head commit and tables')
    .action(async (_o, cmd: Command) => {
      const t = targetOf(cmd.optsWithGlobals() as GlobalOptions);
      await withArm(cmd)(async (arm) => {
        const [head] = await arm.log({ limit: 1 });
        io.out(`${arm.mode} ${t.location}\nrepo ${arm.repo}, on branch ${arm.branch}${head ? ` at ${short(head.hash)} "${head.message}"` : ''}\n`);
        const tables = await arm.listTables();
        if (tables.length === 0) return io.out('no tables\n');
        const described = await Promise.all(tables.map((x) => arm.describeTable(x.table)));
        io.out(textTable(['table', 'version', 'rows', 'key', 'chunks', 'pending changes'], described.map((d) => [
          d.table, d.version, d.rows, d.primaryKey?.join(',') ?? '', d.chunks ?? '', d.pending ? d.pending.rows : '',
        ])));
        const pending = described.filter((d) => d.pending);
        if (pending.length > 0) io.out(`reads merge pending changes in ${pending.map((d) => d.table).join(', ')}: \`armillaria compact <table>\` folds them in\n`);
      });
    });

  return program;
}

function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  for (; n >= 1024 && u < units.length - 1; u++) n /= 1024;
  return `${u === 0 ? n : n.toFixed(1)} ${units[u]}`;
}

function parseMs(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new CommanderArgumentError(`${flag} expects a non-negative number of milliseconds`);
  return n;
}
