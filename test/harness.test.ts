/**
 * Proves the test harness works: the env vars set by the global setup reach the `forks` workers, and
 * each real server answers at protocol level. These fail (not skip) when a URL is set but unreachable.
 */
import { connect } from 'node:net';
import { HeadBucketCommand, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestBucket, deleteTestBucket, hasService, natsTestUrl, redisTestUrl, s3TestConfig, testS3Client, uniqueName } from '@armillaria/testkit';

describe('global setup', () => {
  // Only process.env connects this worker to the global setup (which ran in the parent vitest process).
  it.skipIf(process.env.ARMILLARIA_TEST_SERVICES !== undefined)('passes every service URL to the worker processes', () => {
    for (const name of ['s3', 'redis', 'nats'] as const) expect(hasService(name), name).toBe(true);
    expect(redisTestUrl()).toMatch(/^redis:\/\//);
    expect(natsTestUrl()).toMatch(/^nats:\/\//);
    expect(s3TestConfig().endpoint).toMatch(/^https?:\/\//);
  });
});

describe.skipIf(!hasService('redis'))('redis', () => {
  it('answers PING and keeps a value', async () => {
    const redis = new Redis(redisTestUrl(), { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
      const key = uniqueName('harness');
      await redis.set(key, 'v', 'EX', 60);
      expect(await redis.get(key)).toBe('v');
    } finally {
      redis.disconnect();
    }
  });
});

describe.skipIf(!hasService('s3'))('minio', () => {
  let bucket: string | undefined;
  afterAll(async () => {
    if (bucket) await deleteTestBucket(bucket);
  });

  it('creates a bucket, stores an object, and deletes the bucket with its content', async () => {
    expect(s3TestConfig()).toMatchObject({ region: 'us-east-1', forcePathStyle: true });
    bucket = await createTestBucket('harness');
    const s3 = testS3Client();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/b.txt', Body: 'hello' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/b.txt' }));
    expect(await got.Body?.transformToString()).toBe('hello');
    await deleteTestBucket(bucket);
    await expect(s3.send(new HeadBucketCommand({ Bucket: bucket }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    await deleteTestBucket(bucket); // idempotent
  });
});

describe.skipIf(!hasService('nats'))('nats', () => {
  it('sends an INFO line with JetStream enabled on connect', async () => {
    const url = new URL(natsTestUrl());
    const line = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: url.hostname, port: Number(url.port) });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        text += d;
        const end = text.indexOf('\r\n');
        if (end >= 0) {
          socket.destroy();
          resolve(text.slice(0, end));
        }
      });
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`closed before INFO: ${JSON.stringify(text)}`)));
    });
    expect(line.startsWith('INFO ')).toBe(true);
    expect(JSON.parse(line.slice(5))).toMatchObject({ jetstream: true });
  });
});
