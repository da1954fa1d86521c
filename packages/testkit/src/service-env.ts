import { BackendUnavailableError } from '@armillaria/core';

/** The environment variables through which tests find the real servers. */
export const ServiceEnv = {
  s3Endpoint: 'ARMILLARIA_S3_ENDPOINT',
  s3AccessKey: 'ARMILLARIA_S3_ACCESS_KEY',
  s3SecretKey: 'ARMILLARIA_S3_SECRET_KEY',
  redisUrl: 'ARMILLARIA_REDIS_URL',
  natsUrl: 'ARMILLARIA_NATS_URL',
} as const;

export type ServiceName = 's3' | 'redis' | 'nats';
export const serviceNames: readonly ServiceName[] = ['s3', 'redis', 'nats'];

/** The env var that points tests at each service (set by the global setup or by the user). */
export const serviceUrlEnv: Readonly<Record<ServiceName, string>> = {
  s3: ServiceEnv.s3Endpoint,
  redis: ServiceEnv.redisUrl,
  nats: ServiceEnv.natsUrl,
};

export const defaultS3Credentials = { accessKeyId: 'minioadmin', secretAccessKey: 'minioadmin' } as const;

/**
 * The reason, for a test title, why a test needing `names` may be skipped: the global setup of `npm test`
 * always starts every server, so only a run that leaves one out on purpose (ARMILLARIA_TEST_SERVICES, for
 * quick local runs) skips it, and under CI=true the test runner counts such a skip as a failure.
 */
export function needsServices(...names: ServiceName[]): string {
  return `[needs ${names.join(' + ')}: npm test starts it; skipped only when ARMILLARIA_TEST_SERVICES leaves it out, and under CI=true a skip counts as a failure]`;
}

/** True when the service's env var is set, for `describe.skipIf(!hasService('redis'))`. */
export function hasService(name: ServiceName): boolean {
  return Boolean(process.env[serviceUrlEnv[name]]);
}

function required(name: ServiceName): string {
  const value = process.env[serviceUrlEnv[name]];
  if (!value) {
    throw new BackendUnavailableError(
      `${serviceUrlEnv[name]} is not set: run tests with \`npm test\` (the global setup starts the servers) or start them with \`npm run dev:up\``,
    );
  }
  return value;
}

export interface S3TestConfig {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly forcePathStyle: true;
}

/**
 * S3 client settings for the test MinIO: pass straight to `new S3Client(s3TestConfig())`.
 * Throws BackendUnavailableError (BACKEND_UNAVAILABLE) when ARMILLARIA_S3_ENDPOINT is not set.
 */
export function s3TestConfig(): S3TestConfig {
  return {
    endpoint: required('s3'),
    region: 'us-east-1',
    credentials: {
      accessKeyId: process.env[ServiceEnv.s3AccessKey] || defaultS3Credentials.accessKeyId,
      secretAccessKey: process.env[ServiceEnv.s3SecretKey] || defaultS3Credentials.secretAccessKey,
    },
    forcePathStyle: true,
  };
}

/** `redis://127.0.0.1:<port>`; throws BackendUnavailableError when ARMILLARIA_REDIS_URL is not set. */
export function redisTestUrl(): string {
  return required('redis');
}

/** `nats://127.0.0.1:<port>`; throws BackendUnavailableError when ARMILLARIA_NATS_URL is not set. */
export function natsTestUrl(): string {
  return required('nats');
}
