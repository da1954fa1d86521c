import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { s3TestConfig } from './service-env.js';
import { uniqueName } from './unique-name.js';

let client: S3Client | undefined;
let clientEndpoint: string | undefined;

/** One S3 client per process for bucket housekeeping (rebuilt if the endpoint changed). */
export function testS3Client(): S3Client {
  const config = s3TestConfig();
  if (!client || clientEndpoint !== config.endpoint) {
    client?.destroy();
    client = new S3Client(config);
    clientEndpoint = config.endpoint;
  }
  return client;
}

/**
 * Creates an empty bucket with a unique name (`<prefix>-…`, see uniqueName) on the test S3 and returns
 * its name. Pair it with `deleteTestBucket(name)` in `afterAll`.
 * Throws BackendUnavailableError when ARMILLARIA_S3_ENDPOINT is not set, InvalidArgumentError on a bad prefix.
 */
export async function createTestBucket(prefix = 'test'): Promise<string> {
  const name = uniqueName(prefix);
  await testS3Client().send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

function isNoSuchBucket(err: unknown): boolean {
  return (err as { name?: string })?.name === 'NoSuchBucket';
}

/** Deletes every object and pending multipart upload in the bucket, then the bucket. Idempotent. */
export async function deleteTestBucket(name: string): Promise<void> {
  const s3 = testS3Client();
  try {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: name, ContinuationToken: token }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key as string }));
      if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: keys, Quiet: true } }));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: name }));
    for (const u of uploads.Uploads ?? []) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: name, Key: u.Key, UploadId: u.UploadId }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: name }));
  } catch (err) {
    if (!isNoSuchBucket(err)) throw err;
  }
}
