// The distributed topology as the manifests deploy it: each service its own process, with the env the
// dev overlay gives its pod (only addresses, ports and the bucket swapped for the test's), against the
// harness's MinIO, Redis and NATS JetStream. Under a steady write load (direct appends and transactions
// through the gateway), every service is killed (SIGKILL) and restarted in turn; nothing acknowledged
// may be lost, and writes must succeed again after each restart without restarting anything else.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Armillaria } from '@armillaria/sdk';
import { createTestBucket, deleteTestBucket, hasService, needsServices, spawnNode, tempDir, uniqueName, type NodeProcess, type TempDir } from '@armillaria/testkit';
import { deployTools, kustomizeBuild, parseYaml, type K8sObject } from './deploy-tools.js';

const distributed = hasService('s3') && hasService('redis') && hasService('nats');
const SERVICES = ['catalog', 'chunk-store', 'txn-coordinator', 'changelog', 'gateway'] as const;
type Service = (typeof SERVICES)[number];

/** The env of each service's pod in the dev overlay: ConfigMaps and Secrets of its envFrom, decoded. */
function manifestEnv(): Record<Service, { env: Record<string, string>; main: string }> {
  const tools = deployTools();
  const objects = parseYaml(tools, kustomizeBuild(tools, 'infra/k8s/overlays/dev')) as Array<K8sObject & Record<string, any>>;
  const out = {} as Record<Service, { env: Record<string, string>; main: string }>;
  for (const name of SERVICES) {
    const container = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name)!.spec.template.spec.containers[0];
    const env: Record<string, string> = {};
    for (const from of container.envFrom) {
      const ref = from.configMapRef ?? from.secretRef;
      const obj = objects.find((o) => o.kind === (from.configMapRef ? 'ConfigMap' : 'Secret') && o.metadata.name === ref.name)!;
      for (const [k, v] of Object.entries(obj.data as Record<string, string>)) env[k] = obj.kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : v;
    }
    // The image runs dist/…/main.js; here the same bin from its sources (no build needed).
    const main = (container.command[1] as string).replace('/dist/', '/src/').replace(/\.js$/, '.ts');
    out[name] = { env, main };
  }
  return out;
}

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

describe.skipIf(!distributed)(`distributed topology: each service its own process, each killed and restarted under write load ${needsServices('s3', 'redis', 'nats')}`, () => {
  const procs = new Map<Service, NodeProcess>();
  const ports = new Map<Service, number>();
  const envs = new Map<Service, Record<string, string>>();
  const mains = new Map<Service, string>();
  let bucket: string;
  let cache: TempDir;
  let gatewayUrl: string;

  async function start(name: Service): Promise<void> {
    const p = spawnNode(root(mains.get(name)!), { env: { ...envs.get(name), ARMILLARIA_PORT: String(ports.get(name) ?? 0) } });
    procs.set(name, p);
    const line = await p.waitForOutput(/Server listening at http:\/\/127\.0\.0\.1:\d+/, { timeoutMs: 90_000 });
    ports.set(name, Number(/:(\d+)$/.exec(line)![1]));
  }

  async function ready(name: Service, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${ports.get(name)}/readyz`);
        if (res.ok) return;
        last = `${res.status} ${await res.text()}`;
      } catch (err) {
        last = String(err);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${name} not ready within ${timeoutMs} ms: ${last}`);
  }

  beforeAll(async () => {
    bucket = await createTestBucket('topology');
    cache = tempDir('topology');
    const fromManifests = manifestEnv();
    const addresses = {
      ARMILLARIA_HOST: '127.0.0.1',
      ARMILLARIA_DATA_DIR: cache.path,
      ARMILLARIA_S3_ENDPOINT: process.env.ARMILLARIA_S3_ENDPOINT!,
      ARMILLARIA_S3_ACCESS_KEY: process.env.ARMILLARIA_S3_ACCESS_KEY || 'minioadmin',
      ARMILLARIA_S3_SECRET_KEY: process.env.ARMILLARIA_S3_SECRET_KEY || 'minioadmin',
      ARMILLARIA_S3_BUCKET: bucket,
      ARMILLARIA_REDIS_URL: process.env.ARMILLARIA_REDIS_URL!,
      ARMILLARIA_NATS_URL: process.env.ARMILLARIA_NATS_URL!,
      ARMILLARIA_LOG_LEVEL: 'info',
    };
    for (const name of SERVICES) {
      const { env, main } = fromManifests[name];
      // Only keys the manifests set are replaced: the test runs what the pods run.
      for (const key of Object.keys(addresses)) if (key !== 'ARMILLARIA_LOG_LEVEL' && key !== 'ARMILLARIA_DATA_DIR' && !(key in env)) throw new Error(`${name}: manifests do not set ${key}`);
      envs.set(name, { ...env, ...addresses, ARMILLARIA_DATA_DIR: `${cache.path}/${name}` });
      mains.set(name, main);
    }
    await Promise.all(SERVICES.filter((s) => s !== 'gateway').map((s) => start(s)));
    const gw = envs.get('gateway')!;
    for (const [key, svc] of [['ARMILLARIA_CATALOG_URL', 'catalog'], ['ARMILLARIA_CHUNKS_URL', 'chunk-store'], ['ARMILLARIA_TXN_URL', 'txn-coordinator']] as const) {
      expect(gw[key]).toBe(`http://${svc}`); // what the manifests say, mapped to the local port below
      gw[key] = `http://127.0.0.1:${ports.get(svc)}`;
    }
    await start('gateway');
    gatewayUrl = `http://127.0.0.1:${ports.get('gateway')}`;
    for (const s of SERVICES) await ready(s);
  }, 15 * 60_000); // the first deployTools() on a fresh machine builds kustomize and kubeconform

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => p.stop()));
    await cache?.cleanup();
    if (bucket) await deleteTestBucket(bucket);
  });

  it('loses nothing acknowledged and recovers from each service being killed', async () => {
    const token = JSON.parse(envs.get('gateway')!.ARMILLARIA_GATEWAY_TOKENS!)[0].token as string;
    const arm = await Armillaria.connect(gatewayUrl, { repo: uniqueName('topo'), token, timeoutMs: 10_000 });
    // main is protected in the manifests: writers work on a branch, as users are told to.
    await arm.createBranch('load');
    arm.checkout('load');
    await arm.appendRows('direct', [{ id: -1 }]);
    await arm.transaction(async (tx) => {
      await tx.appendRows('txn', [{ id: -1 }]);
    });

    const acked = { direct: [-1] as number[], txn: [-1] as number[] };
    const failures = { direct: 0, txn: 0 };
    let stop = false;
    let next = 0;
    const directWriter = (async () => {
      while (!stop) {
        const id = next++;
        try {
          await arm.appendRows('direct', [{ id }]);
          acked.direct.push(id);
        } catch {
          failures.direct++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
    const txnWriter = (async () => {
      while (!stop) {
        const id = next++;
        try {
          await arm.transaction(async (tx) => {
            await tx.appendRows('txn', [{ id }]);
          });
          acked.txn.push(id);
        } catch {
          failures.txn++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();

    const ackedNow = () => acked.direct.length + acked.txn.length;
    /** Waits until both writers have made `n` more acknowledged writes: the system serves again by itself. */
    const progress = async (n: number, what: string) => {
      const d0 = acked.direct.length;
      const t0 = acked.txn.length;
      const deadline = Date.now() + 90_000;
      while (acked.direct.length < d0 + n || acked.txn.length < t0 + n) {
        if (Date.now() > deadline) throw new Error(`no progress after ${what}: direct ${acked.direct.length - d0}, txn ${acked.txn.length - t0} (failures ${JSON.stringify(failures)})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    try {
      await progress(3, 'start');
      for (const name of SERVICES) {
        const before = ackedNow();
        procs.get(name)!.kill('SIGKILL');
        await procs.get(name)!.exited;
        await new Promise((r) => setTimeout(r, 1000)); // writes fail meanwhile
        await start(name);
        await ready(name);
        await progress(3, `restarting ${name}`);
        // Reads too: SQL through the gateway fetches chunks from the chunk-store service.
        const ackedBefore = acked.direct.length;
        const seen = await arm.query<{ n: number }>('SELECT COUNT(*) AS n FROM direct');
        expect(Number(seen.rows[0]!.n)).toBeGreaterThanOrEqual(ackedBefore);
        console.log(`[topology] ${name} killed and restarted; ${ackedNow() - before} writes acknowledged meanwhile, failures so far ${JSON.stringify(failures)}`);
      }
    } finally {
      stop = true;
      await Promise.all([directWriter, txnWriter]);
    }

    // Everything acknowledged is there, exactly once (an unacknowledged write may or may not be).
    for (const table of ['direct', 'txn'] as const) {
      const result = await arm.query<{ id: number | bigint }>(`SELECT id FROM ${table}`);
      const ids = result.rows.map((r) => Number(r.id));
      const present = new Set(ids);
      const missing = acked[table].filter((id) => !present.has(id));
      expect(missing, `${table}: acknowledged but lost`).toEqual([]);
      expect(ids.length, `${table}: duplicates`).toBe(present.size);
    }
    console.log(`[topology] acknowledged: direct ${acked.direct.length}, txn ${acked.txn.length}; failed attempts: ${JSON.stringify(failures)}`);
    await arm.close();
  }, 600_000);

  it('logs JSON lines, and one request id follows a request from the gateway into the catalog', async () => {
    const token = JSON.parse(envs.get('gateway')!.ARMILLARIA_GATEWAY_TOKENS!)[0].token as string;
    const id = `trace-${uniqueName('topo')}`;
    // One repo by name (listing every repo would also read other test files' repos in the shared Redis).
    const res = await fetch(`${gatewayUrl}/repos/${uniqueName('absent')}`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });
    expect(res.status).toBe(404);
    expect((await res.json()).code).toBe('REPO_NOT_FOUND');
    expect(res.headers.get('x-request-id')).toBe(id);
    const logLines = (name: Service) => procs.get(name)!.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    // Logs are flushed asynchronously by pino: wait for the line rather than read once.
    const deadline = Date.now() + 10_000;
    const logged = (name: Service) => logLines(name).some((l) => l.reqId === id);
    while (!(logged('catalog') && logged('gateway')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const name of ['gateway', 'catalog'] as const) {
      const lines = logLines(name);
      expect(lines.length, name).toBeGreaterThan(0);
      const mine = lines.filter((l) => l.reqId === id);
      expect(mine.length, `${name} logged nothing for ${id}`).toBeGreaterThan(0);
      expect(mine.every((l) => typeof l.level === 'number' && typeof l.time === 'number')).toBe(true);
    }
    // No secret in any log of any service.
    for (const name of SERVICES) {
      const out = procs.get(name)!.stdout() + procs.get(name)!.stderr();
      expect(out).not.toContain(token);
      expect(out).not.toContain(envs.get(name)!.ARMILLARIA_S3_SECRET_KEY);
      expect(out).not.toContain(envs.get(name)!.ARMILLARIA_SERVICE_TOKEN);
    }
  });

  it('the internal services refuse callers without the service token the manifests give them; probes stay open', async () => {
    const routes: Record<Exclude<Service, 'gateway'>, string> = {
      catalog: `/repos/${uniqueName('absent')}`, 'chunk-store': '/chunks?limit=1', 'txn-coordinator': `/txn/${'0'.repeat(32)}`, changelog: `/repos/${uniqueName('absent')}/commits/${'0'.repeat(64)}`,
    };
    for (const [name, path] of Object.entries(routes) as Array<[Exclude<Service, 'gateway'>, string]>) {
      const serviceToken = envs.get(name)!.ARMILLARIA_SERVICE_TOKEN;
      expect(serviceToken, `${name}: the manifests give it ARMILLARIA_SERVICE_TOKEN`).toBeTruthy();
      expect(envs.get('gateway')!.ARMILLARIA_SERVICE_TOKEN).toBe(serviceToken);
      const base = `http://127.0.0.1:${ports.get(name)}`;
      for (const headers of [{}, { authorization: 'Bearer not-the-token' }]) {
        const res = await fetch(base + path, { headers });
        expect(res.status, `${name} ${path}`).toBe(401);
        expect((await res.json()).code).toBe('UNAUTHORIZED');
      }
      const ok = await fetch(base + path, { headers: { authorization: `Bearer ${serviceToken}` } });
      expect(ok.status, `${name} ${path} with the token`).not.toBe(401);
      for (const probe of ['/healthz', '/readyz', '/metrics']) expect((await fetch(base + probe)).status, `${name} ${probe}`).toBe(200);
    }
  });
});
