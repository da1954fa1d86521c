import { InvalidArgumentError } from './errors.js';

/**
 * The one typed configuration of every Armillaria process. Values come from `ARMILLARIA_*`
 * environment variables (a config file can supply the same keys); defaults give embedded mode.
 * `configReference()` renders this table as docs, so it is never written by hand twice.
 */
export interface ArmillariaConfig {
  /** `embedded`: local files; `distributed`: S3 + Redis (+ NATS). */
  mode: 'embedded' | 'distributed';
  dataDir: string;
  host: string;
  port: number;
  s3: { endpoint?: string; region: string; bucket: string; prefix: string; accessKeyId?: string; secretAccessKey?: string; forcePathStyle: boolean };
  redisUrl?: string;
  natsUrl?: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Verified chunk bytes a process keeps in memory for repeated reads (0: off). */
  chunkCacheBytes: number;
  /** Which chunks are stored deflated: `json` (catalog metadata) or `off` (see the chunk store's stored-form.ts). */
  chunkCompression: 'json' | 'off';
}

type Kind = 'string' | 'int' | 'bool' | 'enum';
interface KeySpec {
  env: string;
  path: string;
  kind: Kind;
  values?: readonly string[];
  default?: string | number | boolean;
  secret?: boolean;
  doc: string;
}

export const configKeys: readonly KeySpec[] = [
  { env: 'ARMILLARIA_MODE', path: 'mode', kind: 'enum', values: ['embedded', 'distributed'], default: 'embedded', doc: 'embedded (local files) or distributed (S3 + Redis + NATS)' },
  { env: 'ARMILLARIA_DATA_DIR', path: 'dataDir', kind: 'string', default: './.armillaria', doc: 'directory of objects, refs and logs in embedded mode; local cache in distributed mode' },
  { env: 'ARMILLARIA_HOST', path: 'host', kind: 'string', default: '127.0.0.1', doc: 'address a service listens on' },
  { env: 'ARMILLARIA_PORT', path: 'port', kind: 'int', default: 8080, doc: 'port a service listens on' },
  { env: 'ARMILLARIA_S3_ENDPOINT', path: 's3.endpoint', kind: 'string', doc: 'S3 endpoint URL (MinIO: http://host:9000); unset means AWS' },
  { env: 'ARMILLARIA_S3_REGION', path: 's3.region', kind: 'string', default: 'us-east-1', doc: 'S3 region' },
  { env: 'ARMILLARIA_S3_BUCKET', path: 's3.bucket', kind: 'string', default: 'armillaria', doc: 'bucket holding chunks (and refs when no Redis is configured)' },
  { env: 'ARMILLARIA_S3_PREFIX', path: 's3.prefix', kind: 'string', default: '', doc: 'key prefix inside the bucket' },
  { env: 'ARMILLARIA_S3_ACCESS_KEY', path: 's3.accessKeyId', kind: 'string', secret: true, doc: 'S3 access key id' },
  { env: 'ARMILLARIA_S3_SECRET_KEY', path: 's3.secretAccessKey', kind: 'string', secret: true, doc: 'S3 secret access key' },
  { env: 'ARMILLARIA_S3_PATH_STYLE', path: 's3.forcePathStyle', kind: 'bool', default: true, doc: 'path-style addressing (needed by MinIO)' },
  { env: 'ARMILLARIA_REDIS_URL', path: 'redisUrl', kind: 'string', secret: true, doc: 'Redis URL for refs and the transaction log (redis://host:6379)' },
  { env: 'ARMILLARIA_NATS_URL', path: 'natsUrl', kind: 'string', doc: 'NATS URL for the changelog (nats://host:4222)' },
  { env: 'ARMILLARIA_CHUNK_CACHE_BYTES', path: 'chunkCacheBytes', kind: 'int', default: 64 * 2 ** 20, doc: 'verified chunk bytes kept in memory for repeated reads, e.g. the base chunks every upsert looks keys up in (0: off); saves a GET per read on S3' },
  { env: 'ARMILLARIA_CHUNK_COMPRESSION', path: 'chunkCompression', kind: 'enum', values: ['json', 'off'], default: 'json', doc: 'json: chunks of JSON (commits, trees, manifests) are stored deflated when that saves space (a third of their size; Parquet chunks never are); off: for object stores read by releases older than 2026-12-07, which read only plain chunks' },
  { env: 'ARMILLARIA_LOG_LEVEL', path: 'logLevel', kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', doc: 'log level of the JSON logs' },
];

/** Reads and validates the configuration; a bad value throws INVALID_ARGUMENT naming the key. */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Record<string, unknown> = {}): ArmillariaConfig {
  const out: Record<string, unknown> = {};
  for (const spec of configKeys) {
    const raw = overrides[spec.path] ?? env[spec.env];
    const value = raw === undefined || raw === '' ? spec.default : parse(spec, raw);
    if (value !== undefined) setPath(out, spec.path, value);
  }
  const config = out as unknown as ArmillariaConfig;
  if (config.mode === 'distributed' && !config.s3.endpoint && !env.AWS_REGION) {
    throw new InvalidArgumentError('ARMILLARIA_MODE=distributed needs ARMILLARIA_S3_ENDPOINT (or AWS settings)', { details: { key: 'ARMILLARIA_S3_ENDPOINT' } });
  }
  return config;
}

function parse(spec: KeySpec, raw: unknown): string | number | boolean {
  const text = String(raw);
  const bad = (why: string): never => {
    const shown = spec.secret ? '(hidden)' : JSON.stringify(text);
    throw new InvalidArgumentError(`config ${spec.env}=${shown}: ${why}`, { details: { key: spec.env } });
  };
  switch (spec.kind) {
    case 'int': {
      const n = Number(text);
      return Number.isInteger(n) && n >= 0 ? n : bad('expected a non-negative integer');
    }
    case 'bool':
      if (['1', 'true', 'yes', 'on'].includes(text.toLowerCase())) return true;
      if (['0', 'false', 'no', 'off'].includes(text.toLowerCase())) return false;
      return bad('expected true or false');
    case 'enum':
      return spec.values?.includes(text) ? text : bad(`expected one of ${spec.values?.join(', ')}`);
    default:
      return text;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
  node[parts[parts.length - 1] as string] = value;
}

/** Markdown table of every key (for docs/deploy.md). */
export function configReference(): string {
  const rows = configKeys.map((k) => `| \`${k.env}\` | ${k.kind === 'enum' ? k.values?.join(' \\| ') : k.kind} | ${k.default === undefined ? '' : `\`${k.default}\``} | ${k.doc}${k.secret ? ' (secret)' : ''} |`);
  return ['| variable | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
