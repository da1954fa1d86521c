/**
 * Protocol-level readiness checks. An open port is not enough: Redis must answer PING, NATS must send
 * its INFO line (with JetStream on), MinIO must report itself live. Each probe makes one attempt and
 * throws a plain Error describing what it saw; `waitUntilReady` retries.
 */
import { connect } from 'node:net';

export interface NatsInfo {
  readonly server_id?: string;
  readonly version?: string;
  readonly jetstream?: boolean;
  readonly [key: string]: unknown;
}

/** Opens a TCP connection, writes `send` (if any) and collects bytes until `done(text)` is true. */
export function tcpExchange(host: string, port: number, send: string | undefined, done: (text: string) => boolean, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let text = '';
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(text);
    };
    const timer = setTimeout(() => finish(new Error(`no complete reply from ${host}:${port} within ${timeoutMs} ms (got ${JSON.stringify(text.slice(0, 200))})`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      if (send !== undefined) socket.write(send);
    });
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (done(text)) finish();
    });
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(new Error(`connection to ${host}:${port} closed (got ${JSON.stringify(text.slice(0, 200))})`)));
  });
}

function hostPort(url: string, defaultPort: number): { host: string; port: number; parsed: URL } {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port ? Number(parsed.port) : defaultPort, parsed };
}

function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** Sends (AUTH and) PING; resolves when Redis answers +PONG. `url`: redis://[user:pass@]host:port. */
export async function probeRedis(url: string, timeoutMs?: number): Promise<void> {
  const { host, port, parsed } = hostPort(url, 6379);
  const password = decodeURIComponent(parsed.password);
  const user = decodeURIComponent(parsed.username);
  const auth = password ? (user ? resp('AUTH', user, password) : resp('AUTH', password)) : '';
  const expectedReplies = auth ? 2 : 1;
  const reply = await tcpExchange(host, port, auth + resp('PING'), (t) => t.split('\r\n').length > expectedReplies, timeoutMs);
  const lines = reply.split('\r\n');
  const pong = lines[expectedReplies - 1];
  if (pong !== '+PONG') throw new Error(`redis at ${host}:${port} answered ${JSON.stringify(reply.trim())} to PING`);
}

/** Reads the INFO line NATS sends on connect. With `requireJetStream`, fails unless JetStream is on. */
export async function probeNats(url: string, opts: { requireJetStream?: boolean; timeoutMs?: number } = {}): Promise<NatsInfo> {
  const { host, port } = hostPort(url, 4222);
  const text = await tcpExchange(host, port, undefined, (t) => t.includes('\r\n'), opts.timeoutMs);
  const line = text.slice(0, text.indexOf('\r\n'));
  if (!line.startsWith('INFO ')) throw new Error(`${host}:${port} is not a NATS server: first line ${JSON.stringify(line.slice(0, 200))}`);
  const info = JSON.parse(line.slice(5)) as NatsInfo;
  if (opts.requireJetStream && info.jetstream !== true) throw new Error(`NATS at ${host}:${port} runs without JetStream (start it with -js)`);
  return info;
}

/** GET <endpoint>/minio/health/live; resolves on 200. With `anyHttpReply`, any HTTP answer will do (non-MinIO S3). */
export async function probeS3(endpoint: string, opts: { anyHttpReply?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const url = new URL('/minio/health/live', endpoint);
  const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 2_000) });
  await res.arrayBuffer();
  if (!opts.anyHttpReply && res.status !== 200) throw new Error(`${url.href} answered HTTP ${res.status}`);
}
