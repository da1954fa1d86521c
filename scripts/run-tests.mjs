#!/usr/bin/env node
/**
 * `npm test`: runs `vitest run` from the repo root (default reporter on the terminal, JSON reporter to
 * a temp file), passes extra arguments through (`npm test -- packages/core`), then prints as the LAST
 * line `N passed, N failed` (`, N skipped` when some were skipped), counted over all test files.
 * A file that fails to load counts as one failure; so does a vitest run that exits non-zero (unhandled
 * error, global setup failure) without any failed test. Exits non-zero if anything failed or no test ran.
 *
 * A full run (no arguments) then runs the Rust unit tests of the native addons (`packages/<pkg>/native`,
 * see cargo-tests.mjs) and counts them in the same line; ARMILLARIA_CARGO_TESTS=1 runs them with
 * arguments too, =0 never.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCargoTests } from './cargo-tests.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const vitestBin = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
const outDir = mkdtempSync(join(tmpdir(), 'armillaria-test-results-'));
const jsonPath = join(outDir, 'results.json');

const args = [vitestBin, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${jsonPath}`, ...process.argv.slice(2)];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
// Ctrl-C reaches vitest from the terminal directly (same process group): stay alive to report. A SIGTERM or
// SIGHUP sent to this process alone is passed on, so vitest can run its teardown (stopping the servers).
process.on('SIGINT', () => {});
for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));

const [code, signal] = await new Promise((done) => child.once('close', (c, s) => done([c, s])));

let passed = 0;
let failed = 0;
let skipped = 0;
const notes = [];
let report;
try {
  report = JSON.parse(readFileSync(jsonPath, 'utf8'));
} catch (err) {
  notes.push(`no JSON results from vitest (${err.code ?? err.message})`);
}
rmSync(outDir, { recursive: true, force: true });

if (report) {
  for (const file of report.testResults ?? []) {
    const tests = file.assertionResults ?? [];
    const fileFailed = tests.filter((t) => t.status === 'failed').length;
    passed += tests.filter((t) => t.status === 'passed').length;
    failed += fileFailed;
    skipped += tests.filter((t) => ['skipped', 'pending', 'todo', 'disabled'].includes(t.status)).length;
    // A file that failed without a failed test did not load (syntax error, bad import, throwing hook).
    if (file.status === 'failed' && fileFailed === 0) {
      failed += 1;
      notes.push(`${file.name.replace(`${root}/`, '')} failed to load or run: ${String(file.message ?? '').split('\n')[0]}`);
    }
  }
}
if ((code !== 0 || signal) && failed === 0) {
  failed = 1;
  const why = (report?.testResults ?? []).length === 0 ? 'before running any test file (no file matched, or the global setup failed)' : 'without a failing test (unhandled error or teardown)';
  notes.push(`vitest exited with ${signal ?? `code ${code}`} ${why}: counted as one failure, see its output above`);
}
const cargoWanted = process.env.ARMILLARIA_CARGO_TESTS === '1' || (process.env.ARMILLARIA_CARGO_TESTS !== '0' && process.argv.length <= 2);
if (cargoWanted && !signal) {
  const cargo = runCargoTests(root, { required: Boolean(process.env.CI) });
  passed += cargo.passed;
  failed += cargo.failed;
  notes.push(...cargo.notes);
}
if (passed + failed === 0) notes.push('no test ran');
// Tests that need MinIO/Redis/NATS skip when their ARMILLARIA_*_URL is unset (a developer running a
// subset with ARMILLARIA_TEST_SERVICES=none). In CI the harness always provides them, so a skip there
// means a backend test silently did not run: count it as a failure.
if (process.env.CI && skipped > 0) {
  failed += skipped;
  notes.push(`${skipped} test(s) skipped under CI=true: every backend test must run in CI, counted as failures`);
}

for (const note of notes) console.log(`[run-tests] ${note}`);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
