/**
 * `npm run bench:peers`: Armillaria against Delta Lake (delta-rs), Apache Iceberg (pyiceberg, SQL catalog
 * on SQLite) and DuckLake (DuckDB + the ducklake extension from PyPI), same machine, same data.
 *
 * 1. a Python virtual environment under the cache dir (created once, reused), from requirements.txt;
 * 2. seeded customers/orders data as Parquet + Arrow IPC (gen_data.py), generated once per size;
 * 3. MinIO + Redis through the testkit (or the ones ARMILLARIA_S3_ENDPOINT / ARMILLARIA_REDIS_URL name);
 * 4. ARMILLARIA_PEERS_RUNS rounds (default 3), each running every system in turn in its own process
 *    on a fresh directory (armillaria.bench.ts, run_peer.py), interleaved so drift hits all alike;
 * 5. report.py: medians, spread, ratios, charts -> bench/results/peers-<date>.md + PNGs.
 *
 * Sizes: ARMILLARIA_PEERS_ROWS (default 1,000,000; ARMILLARIA_PEERS_10M=1 for 10M),
 * ARMILLARIA_PEERS_COMMITS (1000), ARMILLARIA_PEERS_CONC_COMMITS (per writer, 50),
 * ARMILLARIA_PEERS_ROUNDS (update rounds, 10). ARMILLARIA_PEERS_SYSTEMS: comma list to run fewer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServices, stopServices } from '@armillaria/testkit';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const cache = process.env.ARMILLARIA_PEERS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'armillaria');
const venv = join(cache, 'peers-venv');
const python = join(venv, 'bin', 'python');
const int = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number.parseInt(v, 10);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  return n;
};
const cfg = {
  rows: int('ARMILLARIA_PEERS_ROWS', process.env.ARMILLARIA_PEERS_10M === '1' ? 10_000_000 : 1_000_000),
  commits: int('ARMILLARIA_PEERS_COMMITS', 1000),
  writers: 4,
  conc_commits: int('ARMILLARIA_PEERS_CONC_COMMITS', 50),
  rounds: int('ARMILLARIA_PEERS_ROUNDS', 10),
};
const runs = int('ARMILLARIA_PEERS_RUNS', 3);
const allSystems = ['armillaria-embedded', 'armillaria-distributed', 'delta', 'iceberg', 'ducklake'];
const systems = (process.env.ARMILLARIA_PEERS_SYSTEMS ?? allSystems.join(',')).split(',').filter((s) => allSystems.includes(s));

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? here, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.stderr) process.stderr.write(r.stderr.split('\n').filter((l) => !l.includes('concurrent update, retrying')).join('\n'));
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

function ensureVenv(): void {
  const marker = join(venv, '.armillaria-requirements');
  const wanted = readFileSync(join(here, 'requirements.txt'), 'utf8');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === wanted) return;
  console.log(`peers: creating the Python environment in ${venv}`);
  mkdirSync(cache, { recursive: true });
  for (const [cmd, args] of [['python3', ['-m', 'venv', venv]], [python, ['-m', 'pip', 'install', '-q', '-r', join(here, 'requirements.txt')]]] as const) {
    const r = spawnSync(cmd, [...args], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
  }
  writeFileSync(marker, wanted);
}

/** The last line of stdout that parses as a JSON object, or an "unavailable" cell with the error tail. */
function lastJson(r: { ok: boolean; stdout: string; stderr: string }): Record<string, unknown> {
  const line = r.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (r.ok && line) return JSON.parse(line) as Record<string, unknown>;
  return { unavailable: `failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ').slice(0, 300)}` };
}

async function main(): Promise<void> {
  ensureVenv();
  const dataRoot = join(cache, 'peers-data');
  const gen = spawnSync(python, [join(here, 'gen_data.py'), dataRoot, ...[cfg.rows, cfg.commits, cfg.writers, cfg.conc_commits, cfg.rounds].map(String)], { stdio: 'inherit' });
  if (gen.status !== 0) throw new Error('data generation failed');
  const data = join(dataRoot, String(cfg.rows));

  let distributedUnavailable: string | undefined;
  let started = false;
  if (systems.includes('armillaria-distributed')) {
    try {
      const s = await startServices({ services: ['s3', 'redis'] });
      started = s.started.length > 0;
    } catch (e) {
      distributedUnavailable = `MinIO/Redis did not start: ${(e as Error).message.slice(0, 200)}`;
    }
  }
  const childEnv = { ...process.env, ...Object.fromEntries(Object.entries(cfg).map(([k, v]) => [`PEERS_${k.toUpperCase()}`, String(v)])) };
  const results: Record<string, Array<Record<string, unknown>>> = Object.fromEntries(systems.map((s) => [s, []]));
  try {
    for (let run = 1; run <= runs; run++) {
      for (const system of systems) {
        const work = mkdtempSync(join(process.env.ARMILLARIA_PEERS_WORK ?? tmpdir(), `peers-${system}-`));
        const t0 = Date.now();
        let res: Record<string, unknown>;
        if (system === 'armillaria-distributed' && distributedUnavailable) res = { unavailable: distributedUnavailable };
        else if (system.startsWith('armillaria-')) {
          res = lastJson(sh(join(root, 'node_modules', '.bin', 'tsx'), ['--conditions=@armillaria/source', 'armillaria.bench.ts', system.slice('armillaria-'.length), data, work], { env: childEnv }));
        } else {
          res = lastJson(sh(python, ['run_peer.py', system, data, work], { env: childEnv }));
        }
        rmSync(work, { recursive: true, force: true });
        results[system]!.push(res);
        console.log(`peers: run ${run}/${runs} ${system}: ${res.unavailable ? String(res.unavailable) : `done in ${((Date.now() - t0) / 1000).toFixed(0)} s`}`);
      }
      writeReport(results, run);
    }
  } finally {
    if (started) await stopServices();
  }
}

/** Raw runs so far -> bench/results/peers-<date>.{json,md,png}: called after every round, so an interrupted run still leaves a report. */
function writeReport(results: Record<string, Array<Record<string, unknown>>>, done: number): void {
  const day = new Date().toISOString().slice(0, 10);
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const rawPath = join(resultsDir, `peers-${day}.json`);
  const armillariaCommit = sh('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).stdout.trim();
  const duckdbNode = (JSON.parse(readFileSync(join(root, 'node_modules', '@duckdb', 'node-api', 'package.json'), 'utf8')) as { version: string }).version;
  writeFileSync(rawPath, `${JSON.stringify({ config: { ...cfg, runs: done }, armillaria: { commit: armillariaCommit, node: process.version, duckdbNode }, results }, null, 1)}\n`);
  const rep = spawnSync(python, [join(here, 'report.py'), rawPath, join(resultsDir, `peers-${day}`)], { stdio: 'inherit' });
  if (rep.status !== 0) throw new Error('report.py failed');
}

await main();
