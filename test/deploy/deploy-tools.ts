// The deployment linters, installed (or found in the cache) by infra/tools/install.sh, and the rendered
// manifests of an overlay as objects.
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface DeployTools {
  hadolint: string;
  kubeconform: string;
  kustomize: string;
  /** Directory of standalone strict Kubernetes JSON schemas (`<kind>-<group>-<version>.json`). */
  schemas: string;
  /** A Python with PyYAML. */
  python: string;
}

let tools: DeployTools | undefined;

/** Runs install.sh (quick when everything is cached; minutes on a fresh machine: go install). */
export function deployTools(): DeployTools {
  if (tools) return tools;
  const out = execFileSync('bash', [join(ROOT, 'infra/tools/install.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 15 * 60_000 });
  const vars = Object.fromEntries(out.trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
  const need = (key: string): string => {
    if (!vars[key]) throw new Error(`infra/tools/install.sh printed no ${key}=...:\n${out}`);
    return vars[key];
  };
  tools = { hadolint: need('HADOLINT'), kubeconform: need('KUBECONFORM'), kustomize: need('KUSTOMIZE'), schemas: need('K8S_SCHEMAS'), python: need('PYTHON') };
  return tools;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], input?: string): RunResult {
  const res = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', ...(input !== undefined ? { input } : {}), maxBuffer: 64 * 1024 * 1024 });
  if (res.error) throw res.error;
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** `kubeconform -strict` with the local schemas only: nothing is downloaded. */
export function kubeconform(t: DeployTools, yaml: string): RunResult {
  return run(t.kubeconform, ['-strict', '-summary', '-schema-location', `${t.schemas}/{{ .ResourceKind }}{{ .KindSuffix }}.json`, '-'], yaml);
}

export function kustomizeBuild(t: DeployTools, dir: string): string {
  const res = run(t.kustomize, ['build', join(ROOT, dir)]);
  if (res.status !== 0) throw new Error(`kustomize build ${dir} failed:\n${res.stderr}`);
  return res.stdout;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

export function parseYaml(t: DeployTools, yaml: string): K8sObject[] {
  const res = run(t.python, ['-c', 'import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))'], yaml);
  if (res.status !== 0) throw new Error(`YAML parse failed:\n${res.stderr}`);
  return JSON.parse(res.stdout) as K8sObject[];
}
