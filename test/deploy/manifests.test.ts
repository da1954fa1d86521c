// The image and the Kubernetes manifests, checked with the real tools: hadolint on the Dockerfile,
// `kustomize build` of each overlay validated by `kubeconform -strict` against local Kubernetes schemas,
// then what the deployment spec asks of the rendered objects.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { configKeys, loadConfig } from '@armillaria/core';
import { gatewayConfigKeys, loadGatewayConfig } from '@armillaria/query-gateway';
import { ROOT, deployTools, kubeconform, kustomizeBuild, parseYaml, run, type DeployTools, type K8sObject } from './deploy-tools.js';

const SERVICES = ['gateway', 'catalog', 'chunk-store', 'txn-coordinator', 'changelog'] as const;
/** Stateless: HPA + PDB. The txn-coordinator keeps open transactions in memory (one replica). */
const STATELESS = ['gateway', 'catalog', 'chunk-store', 'changelog'];
const INSTALL_TIMEOUT = 15 * 60_000;

let tools: DeployTools;
beforeAll(() => {
  tools = deployTools();
}, INSTALL_TIMEOUT);

describe('Dockerfile', () => {
  const dockerfile = join(ROOT, 'infra/docker/Dockerfile');

  it('passes hadolint with no finding at all (info included)', () => {
    const res = run(tools.hadolint, ['--failure-threshold', 'info', '--no-color', dockerfile]);
    expect(res.status, res.stdout + res.stderr).toBe(0);
    expect(res.stdout.trim()).toBe('');
  });

  it('is linted for real: hadolint fails a bad Dockerfile', () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'hadolint-')), 'Dockerfile');
    writeFileSync(bad, 'FROM node:latest\nRUN cd /app && npm install\nUSER root\n');
    const res = run(tools.hadolint, ['--no-color', bad]);
    expect(res.status).not.toBe(0);
    expect(res.stdout).toContain('DL3007');
  });

  it('builds natively and prunes in a build stage, runs as a non-root uid with a health check', () => {
    const text = readFileSync(dockerfile, 'utf8');
    const stages = text.split(/^FROM /m).slice(1);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages.find((s) => /AS build\b/.test(s)) ?? '';
    expect(build).toMatch(/npm ci/);
    expect(build).toMatch(/npm prune --omit=dev/);
    expect(build).toMatch(/ARMILLARIA_REQUIRE_NATIVE=1/);
    expect(build).toMatch(/\/usr\/local\/cargo/);
    const runtime = stages.at(-1) ?? '';
    expect(runtime).toMatch(/^node:\$\{NODE_VERSION\}-bookworm-slim/);
    expect(runtime).toMatch(/^USER [1-9]\d*:[1-9]\d*$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\/healthz/ms);
    const ignore = readFileSync(join(ROOT, 'infra/docker/Dockerfile.dockerignore'), 'utf8');
    for (const entry of ['**/node_modules', '**/dist', '**/target', '**/*.node', '.git']) expect(ignore.split('\n')).toContain(entry);
  });
});

describe('kubeconform', () => {
  it('rejects what the schemas forbid (strict: unknown fields too), offline', () => {
    const bad = [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata: {name: x}',
      'spec:',
      '  replicas: "two"',
      '  selector: {matchLabels: {a: b}}',
      '  template:',
      '    metadata: {labels: {a: b}}',
      '    spec: {containers: [{name: x, image: x, livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSecond: 5}}]}',
    ].join('\n');
    const res = kubeconform(tools, bad);
    expect(res.status).not.toBe(0);
    expect(res.stdout).toContain("additional properties 'periodSecond' not allowed");
    expect(res.stdout).toContain('/spec/replicas');
  });
});

for (const overlay of ['dev', 'prod'] as const) {
  describe(`kustomize overlay ${overlay}`, () => {
    let yaml: string;
    let objects: K8sObject[];
    const all = (kind: string) => objects.filter((o) => o.kind === kind);
    const one = (kind: string, name: string) => {
      const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
      if (!found) throw new Error(`no ${kind}/${name} in overlay ${overlay}`);
      return found as K8sObject & Record<string, any>;
    };

    beforeAll(() => {
      yaml = kustomizeBuild(tools, `infra/k8s/overlays/${overlay}`);
      objects = parseYaml(tools, yaml);
    }, INSTALL_TIMEOUT);

    it('passes kubeconform -strict with nothing skipped', () => {
      const res = kubeconform(tools, yaml);
      expect(res.status, res.stdout + res.stderr).toBe(0);
      expect(res.stdout).toMatch(new RegExp(`Summary: ${objects.length} resources found .* Valid: ${objects.length}, Invalid: 0, Errors: 0, Skipped: 0`));
    });

    it('runs each service from the one image with probes, resources and a locked-down security context', () => {
      const deployments = all('Deployment');
      expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...SERVICES].sort());
      const images = new Set<string>();
      for (const name of SERVICES) {
        const spec = one('Deployment', name).spec.template.spec;
        expect(spec.securityContext.runAsNonRoot, name).toBe(true);
        expect(spec.containers).toHaveLength(1);
        const c = spec.containers[0];
        images.add(c.image);
        expect(c.readinessProbe.httpGet.path, name).toBe('/readyz');
        expect(c.livenessProbe.httpGet.path, name).toBe('/healthz');
        for (const k of ['requests', 'limits']) for (const r of ['cpu', 'memory']) expect(c.resources?.[k]?.[r], `${name} ${k}.${r}`).toBeDefined();
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        // The command is a real service bin of this repo.
        const [node, main] = c.command;
        expect(node).toBe('node');
        const pkg = /^packages\/([^/]+)\/dist\/server\/main\.js$/.exec(main)?.[1];
        expect(pkg, main).toBeDefined();
        expect(existsSync(join(ROOT, 'packages', pkg as string, 'src/server/main.ts')), main).toBe(true);
        expect(JSON.parse(readFileSync(join(ROOT, 'packages', pkg as string, 'package.json'), 'utf8')).bin).toBeDefined();
      }
      expect(images.size).toBe(1);
      expect([...images][0]).toMatch(overlay === 'prod' ? /^[\w.-]+\/[\w/.-]+:[\w.-]+$/ : /^armillaria:dev$/);
    });

    it('has a PodDisruptionBudget and an HPA for each stateless service and none for the coordinator', () => {
      for (const name of STATELESS) {
        const deployment = one('Deployment', name);
        const pdb = one('PodDisruptionBudget', name);
        expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
        const hpa = one('HorizontalPodAutoscaler', name);
        expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
        expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
      }
      expect(all('PodDisruptionBudget').map((p) => p.metadata.name)).not.toContain('txn-coordinator');
      expect(all('HorizontalPodAutoscaler').map((p) => p.metadata.name)).not.toContain('txn-coordinator');
      const txn = one('Deployment', 'txn-coordinator');
      expect(txn.spec.replicas).toBe(1);
      expect(txn.spec.strategy.type).toBe('Recreate');
    });

    it('lets only the gateway be reached from outside', () => {
      const policies = all('NetworkPolicy') as Array<K8sObject & Record<string, any>>;
      const deny = one('NetworkPolicy', 'default-deny');
      expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
      // Policies are additive: a rule with no `from` (or an ipBlock) admits anyone, so only the gateway may have one.
      const open = policies.filter((p) => (p.spec.ingress ?? []).some((r: any) => !r.from || r.from.some((f: any) => f.ipBlock)));
      expect(open.map((p) => p.metadata.name)).toEqual(['gateway']);
      expect(one('NetworkPolicy', 'gateway').spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'gateway' } });
      // Every other ingress source is a pod of this namespace (the gateway, or a service for the backends) or the monitoring namespace.
      for (const p of policies) {
        for (const rule of p.spec.ingress ?? []) {
          for (const from of rule.from ?? []) {
            const ok = from.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'gateway'
              || from.podSelector?.matchLabels?.['app.kubernetes.io/component'] === 'service'
              || from.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring';
            expect(ok, `${p.metadata.name}: ${JSON.stringify(from)}`).toBe(true);
          }
        }
      }
      if (overlay === 'prod') {
        const ingress = one('Ingress', 'gateway');
        expect(ingress.spec.rules[0].http.paths[0].backend.service.name).toBe('gateway');
      }
    });

    it('gives every service only known ARMILLARIA_* keys, and valid configuration where the overlay holds the secrets', () => {
      const known = new Set([...configKeys.map((k) => k.env), ...gatewayConfigKeys.map(([env]) => env)]);
      const data = (o: K8sObject & Record<string, any>): Record<string, string> => o.kind === 'Secret'
        ? Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(v as string, 'base64').toString('utf8')]))
        : o.data ?? {};
      for (const name of SERVICES) {
        const c = one('Deployment', name).spec.template.spec.containers[0];
        const env: Record<string, string> = {};
        let complete = true;
        for (const from of c.envFrom) {
          const ref = from.configMapRef ?? from.secretRef;
          const obj = objects.find((o) => o.kind === (from.configMapRef ? 'ConfigMap' : 'Secret') && o.metadata.name === ref.name);
          if (!obj) {
            // Only prod Secrets live outside git.
            expect(overlay === 'prod' && from.secretRef, `${name}: ${ref.name} missing`).toBeTruthy();
            complete = false;
            continue;
          }
          Object.assign(env, data(obj as K8sObject & Record<string, any>));
        }
        for (const key of Object.keys(env)) expect(known.has(key), `${name}: unknown config key ${key}`).toBe(true);
        if (!complete) continue;
        const config = loadConfig(env);
        expect(config.mode).toBe('distributed');
        expect(config.host).toBe('0.0.0.0');
        expect(config.port).toBe(c.ports[0].containerPort);
        if (name === 'gateway') {
          const gw = loadGatewayConfig(env);
          expect(gw.catalogUrl).toBe('http://catalog');
          expect(gw.tokens?.length).toBeGreaterThan(0);
        }
      }
    });

    if (overlay === 'dev') {
      it('runs MinIO, Redis and NATS JetStream in-cluster, and the config points at them', () => {
        expect(all('StatefulSet').map((s) => s.metadata.name).sort()).toEqual(['minio', 'nats', 'redis']);
        for (const name of ['minio', 'nats', 'redis']) {
          expect(one('Service', name).spec.selector).toEqual(one('StatefulSet', name).spec.selector.matchLabels);
        }
        expect(one('StatefulSet', 'nats').spec.template.spec.containers[0].args).toContain('-js');
        const config = one('ConfigMap', objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('armillaria-config'))!.metadata.name).data;
        expect(new URL(config.ARMILLARIA_S3_ENDPOINT).hostname).toBe('minio');
        expect(new URL(config.ARMILLARIA_NATS_URL).hostname).toBe('nats');
      });
    } else {
      it('references external backends and keeps no secret in git', () => {
        expect(all('StatefulSet')).toEqual([]);
        expect(all('Secret')).toEqual([]);
        const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('armillaria-config')) as K8sObject & Record<string, any>;
        expect(config.data.ARMILLARIA_S3_ENDPOINT).toMatch(/^https:\/\//);
        expect(config.data.ARMILLARIA_NATS_URL).toMatch(/^nats:\/\//);
      });
    }
  });
}
