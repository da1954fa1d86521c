import { loadConfig } from '@armillaria/core';
import { buildApp, loadGatewayConfig, openGatewayDeps } from '@armillaria/query-gateway';

export interface ServeOptions {
  dataDir: string;
  host?: string;
  port?: number;
  /** Where the "listening" line goes (stderr). */
  log(line: string): void;
}

/**
 * `armillaria serve`: the gateway with every service in this process. Storage follows the shared
 * configuration (embedded files under `dataDir` by default; ARMILLARIA_MODE=distributed with S3 /
 * Redis / NATS), tokens and protected branches the gateway's ARMILLARIA_GATEWAY_* variables.
 * Runs until SIGINT/SIGTERM, then closes the app and every service.
 */
export async function serve(opts: ServeOptions): Promise<void> {
  const config = loadConfig(process.env, {
    dataDir: opts.dataDir, ...(opts.host ? { host: opts.host } : {}), ...(opts.port !== undefined ? { port: opts.port } : {}),
  });
  const opened = await openGatewayDeps(config, loadGatewayConfig());
  const app = await buildApp({ ...opened.deps, logger: { level: config.logLevel === 'info' ? 'warn' : config.logLevel } });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= (async () => {
    await app.close();
    await opened.close();
  })());
  const done = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop().then(resolve));
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await opened.close();
    throw err;
  }
  const address = app.server.address();
  const port = address && typeof address === 'object' ? address.port : config.port;
  opts.log(`armillaria gateway listening on http://${config.host}:${port} (${config.mode}, data ${config.dataDir})\n`);
  await done;
}
