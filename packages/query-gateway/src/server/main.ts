#!/usr/bin/env node
// The gateway: config -> services (in-process, or remote with ARMILLARIA_*_URL) -> query engine -> app -> listen.
import { loadConfig } from '@armillaria/core';
import { buildApp } from './app.js';
import { loadGatewayConfig } from './gateway-config.js';
import { openGatewayDeps } from './gateway-deps.js';

const config = loadConfig();
const gw = loadGatewayConfig();
const opened = await openGatewayDeps(config, gw);
const app = await buildApp({ ...opened.deps, logger: { level: config.logLevel } });
app.log.info({ mode: config.mode, remoteServices: Boolean(gw.catalogUrl), auth: Boolean(gw.tokens), protectedBranches: gw.protectedBranches }, 'query-gateway starting');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(async () => {
      await opened.close();
      process.exit(0);
    });
  });
}
await app.listen({ host: config.host, port: config.port });
