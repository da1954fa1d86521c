import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { deflateRaw, deflateRawSync, inflateRaw, inflateRawSync, createInflateRaw } from 'node:zlib';

/**
 * How a chunk's bytes are kept in the object store. A chunk is named by the BLAKE3 hash of its own bytes
 * (never of what is stored), and stored either as those bytes or, when that saves space, deflated behind
 * an 8-byte header: `00 41 52 4d 5a 01 0a 00` ("\0ARMZ\x01\n\0", version 1), then raw deflate
 * (RFC 1951, zlib level 6, no dictionary). Any reader inflates it with a stock zlib.
 *
 * Why: catalog metadata (commits, trees, manifests, manifest pages: canonical JSON) is ~40% of what a
 * small commit stores, and deflates to ~36% of its size. Parquet chunks are compressed already and stay
 * as they are, so external readers of a table's files (`layout`) still find plain Parquet.
 *
 * A chunk whose own bytes begin with the header is always stored deflated, so stored bytes begin with
 * the header exactly when they are deflated: reading is never ambiguous.
 */
export const DEFLATED_HEADER = Uint8Array.of(0x00, 0x41, 0x52, 0x4d, 0x5a, 0x01, 0x0a, 0x00);

/** Which chunks to try deflating: `json` (default) those that look like JSON text; `off` none. */
export type ChunkCompression = 'json' | 'off';

/** Smaller chunks gain too little to pay the header and the inflate. */
const MIN_DEFLATE_BYTES = 128;
/** Deflated form kept only when it saves at least an eighth. */
const MIN_SAVING = 1 / 8;
/** Buffers at least this large are (de)compressed on the thread pool, not the event loop. */
const OFF_THREAD_BYTES = 256 * 1024;
const LEVEL = 6;

const deflateAsync = promisify(deflateRaw);
const inflateAsync = promisify(inflateRaw);

export function hasDeflatedHeader(bytes: Uint8Array): boolean {
  if (bytes.byteLength < DEFLATED_HEADER.length) return false;
  for (let i = 0; i < DEFLATED_HEADER.length; i++) if (bytes[i] !== DEFLATED_HEADER[i]) return false;
  return true;
}

/** `{` or `[` first: canonical JSON metadata. Parquet starts with `PAR1`, so it is never tried. */
function looksLikeJson(bytes: Uint8Array): boolean {
  return bytes[0] === 0x7b || bytes[0] === 0x5b;
}

/** The bytes to store for a chunk whose own bytes are `bytes`. */
export async function storedForm(bytes: Uint8Array, compression: ChunkCompression): Promise<Uint8Array> {
  const forced = hasDeflatedHeader(bytes);
  if (!forced && (compression === 'off' || bytes.byteLength < MIN_DEFLATE_BYTES || !looksLikeJson(bytes))) return bytes;
  const body = bytes.byteLength >= OFF_THREAD_BYTES ? await deflateAsync(bytes, { level: LEVEL }) : deflateRawSync(bytes, { level: LEVEL });
  const size = DEFLATED_HEADER.length + body.byteLength;
  if (!forced && size > bytes.byteLength * (1 - MIN_SAVING)) return bytes;
  const out = new Uint8Array(size);
  out.set(DEFLATED_HEADER, 0);
  out.set(body, DEFLATED_HEADER.length);
  return out;
}

/**
 * A chunk's own bytes from what is stored, or undefined when stored bytes with the header do not
 * inflate (damaged: the caller reports the chunk corrupt).
 */
export async function chunkBytes(stored: Uint8Array): Promise<Uint8Array | undefined> {
  if (!hasDeflatedHeader(stored)) return stored;
  const body = stored.subarray(DEFLATED_HEADER.length);
  try {
    return body.byteLength >= OFF_THREAD_BYTES / 4 ? await inflateAsync(body) : inflateRawSync(body);
  } catch {
    return undefined;
  }
}

/**
 * A stored object's stream as the chunk's own bytes: passed through, or, when it begins with the
 * header, inflated as it arrives. A damaged deflate stream throws `damaged()` from the iterator.
 */
export async function* chunkStream(stored: AsyncIterable<Uint8Array>, damaged: () => Error): AsyncGenerator<Uint8Array> {
  const it = stored[Symbol.asyncIterator]();
  // Enough bytes to tell the header (a first piece may be shorter).
  let head: Uint8Array = new Uint8Array(0);
  let done = false;
  while (head.byteLength < DEFLATED_HEADER.length) {
    const next = await it.next();
    if (next.done) {
      done = true;
      break;
    }
    head = concat(head, next.value);
  }
  const rest = async function* (): AsyncGenerator<Uint8Array> {
    if (done) return;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
  };
  if (!hasDeflatedHeader(head)) {
    if (head.byteLength > 0) yield head;
    yield* rest();
    return;
  }
  // Piped (backpressure, and an early stop by the consumer ends the source); a source error is passed on
  // as it is, a failure of the inflate itself is damage.
  let sourceError: unknown;
  const source = Readable.from((async function* () {
    if (head.byteLength > DEFLATED_HEADER.length) yield head.subarray(DEFLATED_HEADER.length);
    yield* rest();
  })(), { objectMode: false });
  const inflate = createInflateRaw();
  source.on('error', (err) => {
    sourceError = err;
    inflate.destroy(err);
  });
  source.pipe(inflate);
  try {
    for await (const piece of inflate) yield piece as Uint8Array;
  } catch {
    throw sourceError ?? damaged();
  } finally {
    source.destroy();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
