import type { FastifyInstance } from 'fastify';
import { loadConfig, type ArmillariaConfig } from '@armillaria/core';
import { buildApp, loadGatewayConfig, openGatewayDeps, type GatewayConfig } from '@armillaria/query-gateway';

export interface ServeOptions {
  dataDir: string;
  host?: string;
  port?: number;
  /** Where the "listening" line goes (stderr). */
  log(line: string): void;
}

export interface ServeApp {
  app: FastifyInstance;
  config: ArmillariaConfig;
  /** Closes the app, then every service. */
  close(): Promise<void>;
}

/** The app `armillaria serve` listens with: the gateway over every service in this process (never listens itself). */
export async function buildServeApp(config: ArmillariaConfig, gw: GatewayConfig = loadGatewayConfig()): Promise<ServeApp> {
  const opened = await openGatewayDeps(config, gw);
  try {
    const app = await buildApp({ ...opened.deps, logger: { level: config.logLevel === 'info' ? 'warn' : config.logLevel } });
    return {
      app, config,
      close: async () => {
        await app.close();
        await opened.close();
      },
    };
  } catch (err) {
    await opened.close();
    throw err;
  }
}

/**
 * `armillaria serve`: storage follows the shared configuration (embedded files under `dataDir` by
 * default; ARMILLARIA_MODE=distributed with S3 / Redis / NATS), tokens and protected branches the
 * gateway's ARMILLARIA_GATEWAY_* variables. Runs until SIGINT/SIGTERM, then closes everything.
 */
export async function serve(opts: ServeOptions): Promise<void> {
  const config = loadConfig(process.env, {
    dataDir: opts.dataDir, ...(opts.host ? { host: opts.host } : {}), ...(opts.port !== undefined ? { port: opts.port } : {}),
  });
  const served = await buildServeApp(config);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= served.close());
  const done = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop().then(resolve));
  });
  try {
    await served.app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await stop();
    throw err;
  }
  const address = served.app.server.address();
  const port = address && typeof address === 'object' ? address.port : config.port;
  opts.log(`armillaria gateway listening on http://${config.host}:${port} (${config.mode}, data ${config.dataDir})\n`);
  await done;
}
