/**
 * vitest globalSetup: provides MinIO, Redis and NATS (JetStream) to every test file.
 * Services whose env var is already set (ARMILLARIA_S3_ENDPOINT, ARMILLARIA_REDIS_URL, ARMILLARIA_NATS_URL)
 * are the user's and are only checked; the others are started on free loopback ports by @armillaria/testkit.
 * startServices writes the URLs into process.env here, in the main vitest process, and the `forks` workers
 * are spawned later with that environment (test/harness.test.ts checks it), so helpers read plain env vars.
 * ARMILLARIA_TEST_SERVICES=none (or a comma list such as `redis,nats`) starts fewer, for quick local runs.
 */
import { startServices, stopServices } from '@armillaria/testkit';

export default async function setup(): Promise<() => Promise<void>> {
  const started = Date.now();
  const services = await startServices();
  const shown = Object.entries(services.env).map(([k, v]) => `${k}=${v}`).join(' ');
  if (shown) {
    const own = services.external.length ? ` (already set: ${services.external.join(', ')})` : '';
    process.stderr.write(`[global-setup] services ready in ${Date.now() - started} ms: ${shown}${own}\n`);
  }
  return stopServices;
}
