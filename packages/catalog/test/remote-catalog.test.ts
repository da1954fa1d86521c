import type { AddressInfo } from 'node:net';
import { RemoteCatalog, buildApp } from '../src/index.js';
import { catalogContract } from './catalog.contract.js';
import { embeddedCatalog } from './catalog-helpers.js';

// The same behaviour suite, through a real listening server and the HTTP client.
catalogContract('remote over HTTP', async () => {
  const embedded = await embeddedCatalog();
  const app = await buildApp({ catalog: embedded.catalog });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const catalog = new RemoteCatalog({ baseUrl: `http://127.0.0.1:${port}` });
  return {
    catalog,
    cleanup: async () => {
      await catalog.close();
      await app.close();
      await embedded.cleanup();
    },
  };
});
