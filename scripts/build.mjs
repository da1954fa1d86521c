#!/usr/bin/env node
// Builds the repository: (1) every napi-rs crate at packages/*/native into packages/<pkg>/native/addon.node,
// (2) every package's dist with `tsc -b tsconfig.json`. Run by the root `postinstall` (npm runs the root
// project's own lifecycle scripts), by `npm run build` and by `npm run build:native`.
//
// Needs only cargo/rustc for the native part: build.rs (napi-build) emits the linker flags, so the napi
// CLI is not involved. A crate whose addon.node is newer than its sources is not rebuilt, so repeated
// installs are fast.
//
// Flags: --native-only, --ts-only. Env: ARMILLARIA_SKIP_NATIVE=1 skips crates; ARMILLARIA_REQUIRE_NATIVE=1
// (CI) turns a failed crate build into a failed script instead of a warning; CARGO_BUILD_JOBS caps cargo.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const nativeOnly = args.has('--native-only');
const tsOnly = args.has('--ts-only');
const requireNative = process.env.ARMILLARIA_REQUIRE_NATIVE === '1';
const skipNative = process.env.ARMILLARIA_SKIP_NATIVE === '1';

/** Packages whose addon has a pure-JS/WASM fallback: say so when their build fails. */
const FALLBACKS = { 'chunk-store': 'the WASM fallback (hash-wasm BLAKE3 + JS CDC) will be used, several times slower' };

const log = (msg) => console.log(`[armillaria build] ${msg}`);
const seconds = (start) => `${((performance.now() - start) / 1000).toFixed(1)}s`;

function loud(lines) {
  const bar = '!'.repeat(78);
  console.warn(`\n${bar}\n${lines.map((l) => `!! ${l}`).join('\n')}\n${bar}\n`);
}

/** Newest mtime (ms) of a file or, recursively, of a directory's files. */
function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** The cdylib's file stem: `[lib] name`, else the package name with '-' as '_' (cargo's rule). */
function libName(cargoToml) {
  const text = readFileSync(cargoToml, 'utf8');
  const section = (name) => text.split(/^\[/m).find((s) => s.startsWith(`${name}]`)) ?? '';
  const field = (sec) => /^name\s*=\s*"([^"]+)"/m.exec(section(sec))?.[1];
  const name = field('lib') ?? field('package');
  if (!name) throw new Error(`${cargoToml}: no [package] name`);
  return name.replaceAll('-', '_');
}

function cdylibFile(name) {
  if (process.platform === 'darwin') return `lib${name}.dylib`;
  if (process.platform === 'win32') return `${name}.dll`;
  return `lib${name}.so`;
}

function findCrates() {
  const pkgs = join(root, 'packages');
  return readdirSync(pkgs)
    .map((pkg) => ({ pkg, dir: join(pkgs, pkg, 'native') }))
    .filter(({ dir }) => existsSync(join(dir, 'Cargo.toml')))
    .sort((a, b) => a.pkg.localeCompare(b.pkg));
}

/** Builds one crate; returns an error message or undefined. */
function buildCrate({ pkg, dir }, targetDir) {
  const start = performance.now();
  const manifest = join(dir, 'Cargo.toml');
  const addon = join(dir, 'addon.node');
  const inputs = [join(dir, 'src'), manifest, join(dir, 'Cargo.lock'), join(dir, 'build.rs')];
  const rel = relative(root, addon);
  if (existsSync(addon) && statSync(addon).mtimeMs > Math.max(...inputs.map(newestMtime))) {
    log(`${pkg}: ${rel} is up to date (newer than src/, Cargo.toml, Cargo.lock), not rebuilt`);
    return undefined;
  }
  const cargoArgs = ['build', '--release', '--manifest-path', manifest];
  // The committed Cargo.lock is the tested dependency set: refuse to silently drift from it.
  if (existsSync(join(dir, 'Cargo.lock'))) cargoArgs.push('--locked');
  if (!process.env.CARGO_BUILD_JOBS) cargoArgs.push('-j', '2');
  log(`${pkg}: cargo ${cargoArgs.join(' ')} (CARGO_TARGET_DIR=${relative(root, targetDir) || '.'})`);
  const res = spawnSync('cargo', cargoArgs, { cwd: dir, stdio: 'inherit', env: { ...process.env, CARGO_TARGET_DIR: targetDir } });
  if (res.error) return `cannot run cargo: ${res.error.message} (install Rust: rustup or your distribution's cargo)`;
  if (res.status !== 0) return `cargo build failed with exit code ${res.status ?? res.signal}`;
  const built = join(targetDir, 'release', cdylibFile(libName(manifest)));
  if (!existsSync(built)) return `cargo succeeded but ${built} is missing (is the crate a cdylib?)`;
  // Copy then rename: a running process may have the old addon mapped; overwriting it in place could crash it.
  const tmp = join(dir, `.addon-${process.pid}.node`); // *.node: git-ignored even if left behind
  copyFileSync(built, tmp);
  renameSync(tmp, addon);
  log(`${pkg}: built ${rel} in ${seconds(start)}`);
  return undefined;
}

function buildNative() {
  if (skipNative) {
    log('native: skipped (ARMILLARIA_SKIP_NATIVE=1)');
    return true;
  }
  const start = performance.now();
  const targetDir = join(root, 'target');
  let ok = true;
  for (const crate of findCrates()) {
    let error;
    try {
      error = buildCrate(crate, targetDir);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (!error) continue;
    ok = false;
    loud([
      `native addon of @armillaria/${crate.pkg} NOT built: ${error}`,
      FALLBACKS[crate.pkg] ? `${FALLBACKS[crate.pkg]}.` : `features of @armillaria/${crate.pkg} that need it will fail.`,
      requireNative ? 'ARMILLARIA_REQUIRE_NATIVE=1: this is fatal.' : 'Set ARMILLARIA_REQUIRE_NATIVE=1 to make this fatal (CI does).',
    ]);
  }
  log(`native: done in ${seconds(start)}`);
  return ok || !requireNative;
}

function buildTs() {
  const start = performance.now();
  let tsc;
  try {
    tsc = join(dirname(fileURLToPath(import.meta.resolve('typescript/package.json'))), 'bin', 'tsc');
  } catch {
    log('typescript: not installed (production install?), dist not built');
    return true;
  }
  log('typescript: tsc -b tsconfig.json');
  const res = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (res.status !== 0) {
    console.error(`[armillaria build] typescript: tsc -b failed (exit ${res.status ?? res.signal}) after ${seconds(start)}`);
    return false;
  }
  log(`typescript: done in ${seconds(start)}`);
  return true;
}

const total = performance.now();
const nativeOk = tsOnly ? true : buildNative();
const tsOk = nativeOnly ? true : buildTs();
log(`finished in ${seconds(total)}`);
process.exit(nativeOk && tsOk ? 0 : 1);
