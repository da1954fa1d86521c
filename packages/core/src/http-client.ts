import { Agent, fetch as undiciFetch } from 'undici';
import { BackendUnavailableError, errorFromBody } from './errors.js';
import { sleep } from './concurrency.js';
import { currentRequestId } from './request-context.js';

export interface HttpClientOptions {
  /** Base URL of the service, e.g. `http://127.0.0.1:7001`. */
  baseUrl: string;
  /** Sent as `authorization: Bearer <token>`. Never logged. */
  token?: string;
  /**
   * Per-request timeout in ms (default 30 s): the whole request, and also how long the client waits for
   * response headers and between body chunks (Node's fetch alone gives up on headers after 300 s, which
   * cut off long maintenance calls such as a GC through the gateway).
   */
  timeoutMs?: number;
  /** Retries for idempotent requests on connection errors and 502/503/504 (default 3). */
  retries?: number;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A streamed body (AsyncIterable) is sent with `duplex: 'half'` and is never retried. */
  body?: Uint8Array | string | AsyncIterable<Uint8Array>;
  /** Safe to retry (GET/HEAD/PUT-by-hash). */
  idempotent?: boolean;
  /** Statuses that are an answer, not an error (e.g. 404 for HEAD). */
  okStatuses?: readonly number[];
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Longest timer Node accepts. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One connection pool per timeout, shared by every client with that timeout (keep-alive reuse). */
const agents = new Map<number, Agent>();

function agentFor(timeoutMs: number): Agent {
  const ms = Math.min(timeoutMs, MAX_TIMER_MS);
  let agent = agents.get(ms);
  if (!agent) agents.set(ms, (agent = new Agent({ headersTimeout: ms, bodyTimeout: ms })));
  return agent;
}

/**
 * The HTTP transport every remote client shares: error bodies become the same typed errors the
 * embedded library throws, so callers cannot tell local from remote failures.
 */
export class HttpClient {
  private readonly baseUrl: string;
  private readonly dispatcher: Agent;
  constructor(private readonly options: HttpClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.dispatcher = agentFor(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  async request(path: string, opts: RequestOptions = {}): Promise<Response> {
    const method = opts.method ?? 'GET';
    const streamed = opts.body !== undefined && typeof opts.body !== 'string' && !(opts.body instanceof Uint8Array);
    const retryable = !streamed && (opts.idempotent ?? (method === 'GET' || method === 'HEAD'));
    const attempts = retryable ? (this.options.retries ?? 3) + 1 : 1;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(Math.min(1000, 50 * 2 ** attempt) * (0.5 + Math.random()));
      const headers: Record<string, string> = { ...opts.headers };
      // Called while serving a request: the next service logs the same id (see request-context.ts).
      const requestId = currentRequestId();
      if (requestId !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'x-request-id')) headers['x-request-id'] = requestId;
      if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
      const timeout = AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
      let res: Response;
      try {
        const init: RequestInit & { duplex?: 'half'; dispatcher: Agent } = { method, headers, body: opts.body as RequestInit['body'], signal, dispatcher: this.dispatcher };
        if (streamed) init.duplex = 'half';
        // undici's own fetch, the one the agent belongs to (Node's bundled copy may be another version).
        res = (await undiciFetch(this.baseUrl + path, init as Parameters<typeof undiciFetch>[1])) as unknown as Response;
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        lastError = err;
        continue;
      }
      if (res.ok || opts.okStatuses?.includes(res.status)) return res;
      if ((res.status === 502 || res.status === 503 || res.status === 504) && attempt + 1 < attempts) {
        await res.body?.cancel();
        lastError = new BackendUnavailableError(`${method} ${path}: HTTP ${res.status}`);
        continue;
      }
      throw await this.errorFrom(res, method, path);
    }
    throw new BackendUnavailableError(`${method} ${this.baseUrl}${path} failed: ${(lastError as Error)?.message ?? lastError}`, { cause: lastError });
  }

  async json<T>(path: string, opts: RequestOptions & { json?: unknown } = {}): Promise<T> {
    const { json, ...rest } = opts;
    const init: RequestOptions = { ...rest };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers = { 'content-type': 'application/json', ...rest.headers };
    }
    const res = await this.request(path, init);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  private async errorFrom(res: Response, method: string, path: string): Promise<Error> {
    const text = await res.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return errorFromBody(body, `${method} ${path}: HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  }
}
