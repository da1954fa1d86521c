import { InvalidArgumentError } from '@armillaria/core';

/**
 * Wire format of batch chunk bodies (`POST /chunks/batch`, `POST /chunks/batch/get` replies):
 * `u32 count | count × u32 length | bytes…` (big-endian). Lengths first, so a reader can slice
 * without copying.
 */
export const BATCH_CONTENT_TYPE = 'application/vnd.armillaria.chunks';

export function encodeBatch(chunks: readonly Uint8Array[]): Buffer {
  const header = Buffer.allocUnsafe(4 + 4 * chunks.length);
  header.writeUInt32BE(chunks.length, 0);
  chunks.forEach((c, i) => header.writeUInt32BE(c.byteLength, 4 + 4 * i));
  return Buffer.concat([header, ...chunks]);
}

export function decodeBatch(body: Uint8Array): Uint8Array[] {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf.length < 4) throw new InvalidArgumentError('batch body is shorter than its header');
  const count = buf.readUInt32BE(0);
  const dataStart = 4 + 4 * count;
  if (dataStart > buf.length) throw new InvalidArgumentError(`batch header claims ${count} chunks but the body is ${buf.length} bytes`);
  const out: Uint8Array[] = [];
  let offset = dataStart;
  for (let i = 0; i < count; i++) {
    const len = buf.readUInt32BE(4 + 4 * i);
    if (offset + len > buf.length) throw new InvalidArgumentError(`batch chunk ${i} runs past the end of the body`);
    out.push(buf.subarray(offset, offset + len));
    offset += len;
  }
  if (offset !== buf.length) throw new InvalidArgumentError(`batch body has ${buf.length - offset} trailing bytes`);
  return out;
}

/** Splits items into groups whose summed sizes stay under `maxBytes` (a single larger item gets its own group). */
export function groupBySize<T>(items: readonly T[], size: (item: T) => number, maxBytes: number, maxCount = 10_000): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const s = size(item);
    if (current.length > 0 && (bytes + s > maxBytes || current.length >= maxCount)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += s;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
