import { ArmillariaError, ErrorCode } from '@armillaria/core';
import type { S3Api, S3Conditions } from './s3-client.js';
import { assertPiece } from './put-options.js';

/** S3 allows at most this many parts per upload. */
const MAX_PARTS = 10_000;

export interface MultipartOptions {
  partSizeBytes: number;
  /** Parts uploading at once for this object; memory held is about (partConcurrency + 1) × partSizeBytes. */
  partConcurrency: number;
  cond: S3Conditions;
  contentType?: string;
  signal?: AbortSignal;
}

/**
 * Uploads `head` (bytes already buffered) followed by the rest of `tail` as one multipart upload, cutting
 * parts of `partSizeBytes` as bytes arrive and uploading up to `partConcurrency` at a time. The object only
 * appears at CompleteMultipartUpload, which carries the put's condition (so `ifNoneMatch` / `ifMatch` are
 * checked atomically at publish time). On any failure, the source's included, the upload is aborted so no
 * parts linger and nothing becomes visible; the original error is rethrown.
 */
export async function uploadMultipart(
  api: S3Api,
  key: string,
  head: readonly Uint8Array[],
  tail: AsyncIterator<Uint8Array> | undefined,
  opts: MultipartOptions,
): Promise<string> {
  const uploadId = await api.createMultipartUpload(key, opts.contentType);
  const etags: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;

  const send = async (body: Uint8Array): Promise<void> => {
    const partNumber = etags.length + 1;
    if (partNumber > MAX_PARTS) {
      throw new ArmillariaError(ErrorCode.PayloadTooLarge, `${key}: more than ${MAX_PARTS} parts of ${opts.partSizeBytes} bytes; raise partSizeBytes`);
    }
    etags.push('');
    const p = api.uploadPart(key, uploadId, partNumber, body, opts.signal).then(
      (etag) => void (etags[partNumber - 1] = etag),
      (err) => void (failure ??= { err }),
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    while (inFlight.size >= opts.partConcurrency) await Promise.race(inFlight);
    if (failure) throw failure.err;
  };

  try {
    const pending: Uint8Array[] = [];
    let pendingBytes = 0;
    // Cuts whole parts off the pending pieces; `final` also sends what is left.
    const flush = async (final: boolean): Promise<void> => {
      while (pendingBytes >= opts.partSizeBytes || (final && pendingBytes > 0)) {
        const size = Math.min(pendingBytes, opts.partSizeBytes);
        const part = new Uint8Array(size);
        let at = 0;
        while (at < size) {
          const piece = pending[0] as Uint8Array;
          const take = Math.min(piece.byteLength, size - at);
          part.set(piece.subarray(0, take), at);
          at += take;
          if (take === piece.byteLength) pending.shift();
          else pending[0] = piece.subarray(take);
        }
        pendingBytes -= size;
        await send(part);
      }
    };
    for (const piece of head) {
      pending.push(piece);
      pendingBytes += piece.byteLength;
      await flush(false);
    }
    if (tail) {
      for (let r = await tail.next(); !r.done; r = await tail.next()) {
        assertPiece(r.value);
        opts.signal?.throwIfAborted();
        // Copied: a source may reuse its buffer once we ask for the next piece.
        pending.push(new Uint8Array(r.value));
        pendingBytes += r.value.byteLength;
        await flush(false);
      }
    }
    await flush(true);
    if (etags.length === 0) await send(new Uint8Array(0)); // an empty stream still needs one part
    await Promise.all(inFlight);
    if (failure) throw failure.err;
    return await api.completeMultipartUpload(key, uploadId, etags, opts.cond);
  } catch (err) {
    await Promise.allSettled(inFlight);
    await tail?.return?.().catch(() => undefined); // let the source release what it holds
    await api.abortMultipartUpload(key, uploadId).catch(() => undefined); // best effort; a bucket lifecycle rule should reap the rest
    throw err;
  }
}
