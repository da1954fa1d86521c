/**
 * The Rust unit tests of the native addons, for `npm test` (run-tests.mjs): `cargo test --release --locked`
 * for each crate at packages/<pkg>/native, in the target dir scripts/build.mjs builds into (<root>/target,
 * or CARGO_TARGET_DIR). Release on purpose: `npm install` has already compiled every dependency in that
 * profile there, so only each crate's test binary is compiled (seconds), where a debug run would first
 * rebuild arrow and parquet. `-j 2` unless CARGO_BUILD_JOBS says otherwise, as in build.mjs.
 *
 * Counts come from libtest's `test result:` lines (ignored Rust tests are reported, not counted). A crate
 * that does not build, or whose test binary dies without a result line, counts as one failure. A missing
 * cargo is one failure when `required` (CI) and a note otherwise; ARMILLARIA_SKIP_NATIVE=1 skips with a note.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const RESULT = /^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored/gm;

/** @returns {{ passed: number, failed: number, notes: string[] }} */
export function runCargoTests(root, { required }) {
  const out = { passed: 0, failed: 0, notes: [] };
  if (process.env.ARMILLARIA_SKIP_NATIVE === '1') {
    out.notes.push('cargo tests: skipped (ARMILLARIA_SKIP_NATIVE=1)');
    return out;
  }
  const crates = readdirSync(join(root, 'packages'))
    .map((pkg) => ({ pkg, dir: join(root, 'packages', pkg, 'native') }))
    .filter(({ dir }) => existsSync(join(dir, 'Cargo.toml')))
    .sort((a, b) => a.pkg.localeCompare(b.pkg));
  const summary = [];
  for (const { pkg, dir } of crates) {
    const args = ['test', '--release', '--manifest-path', join(dir, 'Cargo.toml')];
    if (existsSync(join(dir, 'Cargo.lock'))) args.push('--locked');
    if (!process.env.CARGO_BUILD_JOBS) args.push('-j', '2');
    console.log(`[run-tests] ${pkg}/native: cargo ${args.join(' ')}`);
    const started = performance.now();
    const res = spawnSync('cargo', args, {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR ?? join(root, 'target') },
    });
    if (res.error) {
      const why = `cargo tests: cannot run cargo (${res.error.code ?? res.error.message})`;
      if (required) out.failed += 1;
      out.notes.push(required ? `${why}: counted as one failure (CI needs the Rust toolchain)` : `${why}: Rust tests not run`);
      return out;
    }
    process.stdout.write(res.stdout);
    let passed = 0;
    let failed = 0;
    let ignored = 0;
    for (const m of res.stdout.matchAll(RESULT)) {
      passed += Number(m[1]);
      failed += Number(m[2]);
      ignored += Number(m[3]);
    }
    if (res.status !== 0 && failed === 0) {
      failed = 1;
      out.notes.push(`cargo tests of ${pkg}/native exited with ${res.signal ?? `code ${res.status}`} without a failing test (build error or crash, see above): counted as one failure`);
    }
    out.passed += passed;
    out.failed += failed;
    summary.push(`${pkg} ${passed} passed, ${failed} failed${ignored ? `, ${ignored} ignored` : ''} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  if (summary.length > 0) out.notes.push(`cargo tests: ${summary.join('; ')}`);
  return out;
}
