/**
 * `npm test` also runs the Rust unit tests of the native addons (scripts/cargo-tests.mjs via
 * run-tests.mjs) and counts them in its `N passed, N failed` line: passing, failing and ignored Rust
 * tests, a crate that does not build, and a missing cargo (a failure under CI, a note elsewhere).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '@armillaria/testkit';
import { runCargoTests } from '../../scripts/cargo-tests.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = tempDir('cargo-tests');
afterAll(() => dir.cleanup());

type CargoCounts = { passed: number; failed: number; notes: string[] };

/** A repo-shaped directory with one crate per entry of `crates` (name -> src/lib.rs). */
function fakeRepo(name: string, crates: Record<string, string>): string {
  const root = join(dir.path, name);
  for (const [pkg, lib] of Object.entries(crates)) {
    const native = join(root, 'packages', pkg, 'native');
    mkdirSync(join(native, 'src'), { recursive: true });
    // `[workspace]`: a crate of its own, whatever directory the temp dir is under.
    writeFileSync(join(native, 'Cargo.toml'), `[package]\nname = "t_${pkg}"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n`);
    writeFileSync(join(native, 'src', 'lib.rs'), lib);
  }
  return root;
}

const tests = (...bodies: string[]): string => `#[cfg(test)]\nmod tests {\n${bodies.join('\n')}\n}\n`;

function withEnv<T>(env: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('cargo tests in npm test', () => {
  it('counts passing and failing Rust tests; a crate that does not build is one failure', () => {
    const root = fakeRepo('mixed', {
      good: tests('#[test] fn a() {}', '#[test] fn b() { assert_eq!(1 + 1, 2); }', '#[test] #[ignore] fn slow() {}'),
      bad: tests('#[test] fn ok() {}', '#[test] fn broken() { assert_eq!(1, 2, "meant to fail"); }'),
      wont_build: 'pub fn f() -> u32 { "not a number" }\n',
    });
    const counts = withEnv({ CARGO_TARGET_DIR: join(dir.path, 'target'), ARMILLARIA_SKIP_NATIVE: undefined }, () => runCargoTests(root, { required: true }) as CargoCounts);
    expect(counts.passed).toBe(3);
    expect(counts.failed).toBe(2);
    expect(counts.notes.join('\n')).toMatch(/wont_build\/native exited with code \d+ without a failing test/);
    expect(counts.notes.join('\n')).toContain('good 2 passed, 0 failed, 1 ignored');
  });

  it('a missing cargo fails under CI and is only a note elsewhere', () => {
    const root = fakeRepo('nocargo', { good: tests('#[test] fn a() {}') });
    const empty = join(dir.path, 'empty-path');
    mkdirSync(empty, { recursive: true });
    const ci = withEnv({ PATH: empty }, () => runCargoTests(root, { required: true }) as CargoCounts);
    expect(ci).toMatchObject({ passed: 0, failed: 1 });
    expect(ci.notes[0]).toMatch(/cannot run cargo.*counted as one failure/);
    const local = withEnv({ PATH: empty }, () => runCargoTests(root, { required: false }) as CargoCounts);
    expect(local).toMatchObject({ passed: 0, failed: 0 });
  });

  it("npm test's summary line includes the native crates' tests", async () => {
    const run = (cargo: '0' | '1') => new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['scripts/run-tests.mjs', 'packages/core/test/hash.test.ts'], {
        cwd: ROOT, env: { ...process.env, CI: '', ARMILLARIA_CARGO_TESTS: cargo, ARMILLARIA_TEST_SERVICES: 'none', ARMILLARIA_SKIP_NATIVE: '' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += String(d)));
      child.stderr.on('data', () => {});
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`run-tests exited ${code}:\n${out.slice(-2000)}`))));
    });
    const count = (out: string): number => Number(/^(\d+) passed, 0 failed/m.exec(out.trim().split('\n').at(-1)!)?.[1]);
    const without = await run('0');
    const withCargo = await run('1');
    // `[run-tests] cargo tests: catalog N passed, 0 failed (..); chunk-store M passed, 0 failed (..)`
    const line = /cargo tests: (.*)$/m.exec(withCargo)?.[1];
    expect(line, withCargo.slice(-1500)).toBeDefined();
    const crates = [...line!.matchAll(/([\w-]+) (\d+) passed, 0 failed/g)].map((m) => [m[1], Number(m[2])] as const);
    expect(crates.map(([name]) => name)).toEqual(['catalog', 'chunk-store']);
    for (const [, n] of crates) expect(n).toBeGreaterThan(0);
    expect(count(withCargo)).toBe(count(without) + crates.reduce((s, [, n]) => s + n, 0));
  }, 300_000);
});
