import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadConfig } from '@armillaria/core';
import type { Armillaria } from '@armillaria/sdk';

/** Options every command takes (see `program.ts`). */
export interface GlobalOptions {
  data?: string;
  url?: string;
  token?: string;
  repo?: string;
  branch?: string;
}

/**
 * Embedded or remote: `--url` (or ARMILLARIA_URL) talks to a gateway; otherwise `--data` (or
 * ARMILLARIA_DATA_DIR, default ./.armillaria) is opened in-process.
 */
export interface Target {
  kind: 'embedded' | 'remote';
  /** Data directory, or gateway URL. */
  location: string;
  repo: string;
  token?: string;
}

export function targetOf(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Target {
  const repo = opts.repo ?? env.ARMILLARIA_REPO ?? 'default';
  const url = opts.url ?? (opts.data ? undefined : env.ARMILLARIA_URL);
  const token = opts.token ?? env.ARMILLARIA_TOKEN;
  if (url) return { kind: 'remote', location: url, repo, ...(token ? { token } : {}) };
  return { kind: 'embedded', location: resolve(opts.data ?? loadConfig(env).dataDir), repo };
}

/**
 * The branch `checkout` chose, kept between commands: in the data directory for embedded mode, in
 * ~/.config/armillaria/checkouts.json (by URL and repo) for remote mode.
 */
function statePath(t: Target): string {
  if (t.kind === 'embedded') return join(t.location, 'cli-checkouts.json');
  return join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'armillaria', 'checkouts.json');
}

function stateKey(t: Target): string {
  return t.kind === 'embedded' ? t.repo : `${t.location}#${t.repo}`;
}

async function readState(t: Target): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readFile(statePath(t), 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

export async function savedCheckout(t: Target): Promise<string | undefined> {
  return (await readState(t))[stateKey(t)];
}

export async function saveCheckout(t: Target, branch: string): Promise<void> {
  const path = statePath(t);
  const state = { ...(await readState(t)), [stateKey(t)]: branch };
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2));
  await rename(tmp, path);
}

/** Opens the SDK on the target with the branch from `--branch`, else the saved checkout. */
export async function openTarget(opts: GlobalOptions): Promise<{ arm: Armillaria; target: Target }> {
  const target = targetOf(opts);
  const branch = opts.branch ?? (await savedCheckout(target));
  const common = { repo: target.repo, ...(branch ? { branch } : {}) };
  // Loaded here, not at startup: the SDK pulls in the whole stack (~1 s), which --help, usage errors
  // and `serve` do not need.
  const { Armillaria } = await import('@armillaria/sdk');
  const arm = target.kind === 'remote'
    ? await Armillaria.connect(target.location, { ...common, ...(target.token ? { token: target.token } : {}) })
    : await Armillaria.open(target.location, common);
  return { arm, target };
}
