import { createHash, createHmac } from 'node:crypto';
import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, SourceData } from '@smithy/types';
import { sleep } from '@armillaria/core';

/**
 * GET, HEAD and PUT of one object as plain HTTP requests signed by the AWS SDK's own SigV4 signer
 * (`@smithy/signature-v4`), without the SDK client's middleware stack. Why: on the dev VM a 1 KB GET
 * through `S3Client.send` costs 1.2-2.2 ms of CPU (endpoint rules, retry and serde middleware, logger
 * filters), against 0.44-0.64 ms signed this way (1.9x less wall time against MinIO on loopback); reads,
 * existence checks and single-request puts are the hot calls. Credentials still come from the client's
 * provider chain, and everything else (listings, multipart uploads, copies, deletes) still goes through
 * the SDK.
 * Used only with an explicit endpoint (MinIO and other S3-compatible stores), whose address needs no
 * endpoint rules.
 */
export interface DirectOptions {
  endpoint: string;
  region: string;
  /** Addressed path-style (`<endpoint>/<bucket>/<key>`). */
  bucket: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  httpAgent: HttpAgent;
  httpsAgent: HttpsAgent;
  /** Attempts per request, with the SDK's standard backoff, for 5xx, 429 and connection errors. */
  maxAttempts: number;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

/** An answered request: status, headers and (for a GET) the body stream, unread. */
export interface DirectResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: IncomingMessage;
}

/** What a failed request tells the caller's error mapping (the shape of the SDK's errors it reads). */
export interface DirectFailure {
  name: string;
  Code?: string;
  message: string;
  $metadata: { httpStatusCode?: number; requestId?: string };
}

export interface SendOptions {
  signal?: AbortSignal;
  /** A PUT's bytes. */
  body?: Uint8Array;
  /** More headers to send and sign (content type, conditions). */
  headers?: Record<string, string>;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);

export class DirectRequests {
  private readonly signer: SignatureV4;
  private readonly url: URL;

  constructor(private readonly o: DirectOptions) {
    this.url = new URL(o.endpoint);
    this.signer = new SignatureV4({ service: 's3', region: o.region, credentials: o.credentials, sha256: NodeSha256, uriEscapePath: false, applyChecksum: true });
  }

  /**
   * Sends `method` for `key`, retried like the SDK (connection errors and 5xx/429, exponential backoff
   * with jitter), and returns the first answer that is not retryable. A non-2xx answer becomes a
   * DirectFailure (with S3's error code from the body when it has one).
   */
  async send(method: 'GET' | 'HEAD' | 'PUT', key: string, opts: SendOptions = {}): Promise<DirectResponse> {
    const { signal, body } = opts;
    // Over plain HTTP the payload is signed (as the SDK does); over TLS it need not be.
    const payloadHash = body === undefined || this.url.protocol === 'https:' ? 'UNSIGNED-PAYLOAD' : createHash('sha256').update(body).digest('hex');
    const headers: Record<string, string> = { ...opts.headers, 'x-amz-content-sha256': payloadHash };
    if (body !== undefined) headers['content-length'] = String(body.byteLength);
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let res: DirectResponse | undefined;
      let failure: unknown;
      try {
        res = await this.once(method, key, headers, body, signal);
      } catch (err) {
        if ((err as Error).name === 'AbortError' || signal?.aborted) throw err;
        failure = err;
      }
      if (res && res.status >= 200 && res.status < 300) return res;
      if (res && (!RETRY_STATUS.has(res.status) || attempt >= this.o.maxAttempts)) throw await failureOf(res);
      if (res) res.body.resume(); // drain: the socket goes back to the pool
      if (!res && attempt >= this.o.maxAttempts) throw networkFailure(failure);
      // The SDK's standard mode: full jitter over 100 ms * 2^attempt, capped at 20 s.
      await sleep(Math.random() * Math.min(20_000, 100 * 2 ** attempt));
    }
  }

  private async once(method: string, key: string, extra: Record<string, string>, body: Uint8Array | undefined, signal: AbortSignal | undefined): Promise<DirectResponse> {
    // Path-style addressing: /<bucket>/<key> under the endpoint's own path.
    const { hostname, host } = this.url;
    const base = this.url.pathname.replace(/\/$/, '');
    const path = `${base}/${encodeSegment(this.o.bucket)}/${key.split('/').map(encodeSegment).join('/')}`;
    const signed = await this.signer.sign({
      method, protocol: this.url.protocol, hostname, path, query: {},
      headers: { ...extra, host },
    } as unknown as Parameters<SignatureV4['sign']>[0]);
    const https = this.url.protocol === 'https:';
    return new Promise<DirectResponse>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)({
        // An IPv6 literal's brackets belong in the Host header, not in the address to connect to.
        method, hostname: hostname.replace(/^\[(.*)\]$/, '$1'), port: this.url.port || undefined, path, headers: signed.headers as OutgoingHttpHeaders,
        agent: https ? this.o.httpsAgent : this.o.httpAgent, signal,
      }, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }));
      req.on('error', reject);
      // Connect and idle limits, as the SDK's handler sets them.
      req.setTimeout(this.o.requestTimeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${this.o.requestTimeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no connection within ${this.o.connectionTimeoutMs} ms`), { code: 'ETIMEDOUT' })), this.o.connectionTimeoutMs);
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      req.end(body);
    });
  }
}

/** S3's answer to a failed request: its XML error code and request id when the body has them. */
async function failureOf(res: DirectResponse): Promise<DirectFailure> {
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  const xml = Buffer.concat(chunks).toString('utf8');
  const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1] ?? (res.status === 404 ? 'NotFound' : res.status === 412 ? 'PreconditionFailed' : `HTTP${res.status}`);
  const requestId = /<RequestId>([^<]*)<\/RequestId>/.exec(xml)?.[1] ?? (res.headers['x-amz-request-id'] as string | undefined);
  const message = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? code;
  return { name: code, Code: code, message, $metadata: { httpStatusCode: res.status, ...(requestId !== undefined && { requestId }) } };
}

/** A request that got no answer: no status, so the caller reads it as unavailable. */
function networkFailure(err: unknown): DirectFailure & { cause: unknown } {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? e?.name ?? 'NetworkError';
  return { name: code, message: e?.message ?? String(err), $metadata: {}, cause: err };
}

/** RFC 3986 encoding of one path segment, as SigV4 canonical URIs need (encodeURIComponent leaves !'()*). */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function bytesOf(data: SourceData): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

/** SHA-256 and HMAC-SHA256 from node:crypto in the shape the signer takes. */
class NodeSha256 {
  private readonly h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest();
  }
  reset(): void {
    throw new Error('not reusable');
  }
}
