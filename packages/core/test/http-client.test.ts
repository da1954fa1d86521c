import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { ErrorCode, HttpClient } from '../src/index.js';

/** A service that answers after `?ms=` milliseconds, like a long GC that sends its headers at the end. */
let server: Server;
let baseUrl: string;
let previous: Dispatcher;

beforeAll(async () => {
  server = createServer((req, res) => {
    const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 0);
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ waited: ms }));
    }, ms);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Node's fetch gives up on response headers after 300 s by default. The same limit, shrunk to 200 ms
  // here, must not cut off a client whose own timeout is longer.
  previous = getGlobalDispatcher();
  setGlobalDispatcher(new Agent({ headersTimeout: 200, bodyTimeout: 200 }));
});

afterAll(async () => {
  setGlobalDispatcher(previous);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('HttpClient timeouts', () => {
  it('waits for slow response headers as long as its own timeoutMs, whatever fetch defaults to', async () => {
    const client = new HttpClient({ baseUrl, timeoutMs: 10_000, retries: 0 });
    await expect(client.json('/slow?ms=2500')).resolves.toEqual({ waited: 2500 });
  });

  it('still gives up after its own timeoutMs, as BACKEND_UNAVAILABLE', async () => {
    const client = new HttpClient({ baseUrl, timeoutMs: 300, retries: 0 });
    await expect(client.json('/slow?ms=3000')).rejects.toMatchObject({ code: ErrorCode.BackendUnavailable });
  });
});
