import { crc32 } from 'node:zlib';
import { isHash, type Hash } from '@armillaria/core';

/**
 * The on-disk format of FsRefStore's ref log (layout version 2): one file of records, each
 *
 *   magic u32 LE | payload length u32 LE | crc u32 LE | payload (UTF-8 JSON)
 *
 * where crc = CRC-32 of the payload seeded with the previous record's crc (0 for the first record).
 * Chaining the checksums means a record is valid only right after the record it was written after:
 * bytes a torn write left behind, later partly overwritten by a shorter record, can never pass as a
 * record. The first record is the header `{format, version}`. Past the last record the file is zeros
 * (preallocated, so an append overwrites existing blocks and one fdatasync makes it durable without
 * an ext4 journal commit). A scan stops at the first record that is not valid: zeros (the end), or a
 * record torn by a crash, which the next writer overwrites.
 *
 * Compaction (fs-ref-compact.ts) writes a new file and renames it over the log; just before the rename it
 * appends a superseded marker `{superseded: <ms>}` to the old file, which tells processes still reading
 * that file to look for the new one (a marker followed by more records is void: the rename never happened).
 */

export const LOG_FORMAT = 'armillaria-fs-refs';
export const LOG_VERSION = 2;
export const MAGIC = 0x4c465241; // "ARFL" little-endian
export const HEADER_BYTES = 12;
/** Largest payload accepted: a record holds a name, two hashes and at most 2 x 16K characters of text. */
export const MAX_PAYLOAD = 1 << 20;

/**
 * One record's payload. `k` absent: a compare-and-swap (sets the value and adds a reflog entry); `k: 'log'`
 * a reflog entry only and `k: 'set'` a value only (both written when a layout-1 directory is migrated,
 * whose reflog may lack lines its value file has).
 */
export interface LogRecord {
  n: string;
  o: Hash | null;
  v: Hash | null;
  t: number;
  m?: string;
  a?: string;
  k?: 'log' | 'set';
}

/** The last record of a log that compaction replaced (or was about to replace) with a new file. */
export interface SupersededRecord {
  superseded: number;
}

export interface HeaderRecord {
  format: string;
  version: number;
}

/** Encodes one record chained after `prevCrc`; returns the bytes and this record's crc. */
export function encodeRecord(payload: object, prevCrc: number): { bytes: Buffer; crc: number } {
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  const crc = crc32(body, prevCrc);
  const bytes = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  bytes.writeUInt32LE(MAGIC, 0);
  bytes.writeUInt32LE(body.length, 4);
  bytes.writeUInt32LE(crc, 8);
  body.copy(bytes, HEADER_BYTES);
  return { bytes, crc };
}

/**
 * The record at `at` in `buf` if it is whole and valid after `prevCrc`: 'short' when `buf` ends before the
 * record does (read more), undefined when it is not a valid record (the end of the log).
 */
export function decodeRecord(buf: Buffer, at: number, prevCrc: number): { payload: unknown; size: number; crc: number } | 'short' | undefined {
  if (buf.length - at < HEADER_BYTES) return 'short';
  if (buf.readUInt32LE(at) !== MAGIC) return undefined;
  const len = buf.readUInt32LE(at + 4);
  if (len > MAX_PAYLOAD) return undefined;
  if (buf.length - at < HEADER_BYTES + len) return 'short';
  const body = buf.subarray(at + HEADER_BYTES, at + HEADER_BYTES + len);
  const crc = buf.readUInt32LE(at + 8);
  if (crc32(body, prevCrc) !== crc) return undefined;
  try {
    return { payload: JSON.parse(body.toString('utf8')), size: HEADER_BYTES + len, crc };
  } catch {
    return undefined;
  }
}

/** The payload of a record already validated by a scan (read back for a reflog answer). */
export function payloadAt(buf: Buffer): unknown {
  const len = buf.readUInt32LE(4);
  return JSON.parse(buf.subarray(HEADER_BYTES, HEADER_BYTES + len).toString('utf8'));
}

export function isHeader(p: unknown): p is HeaderRecord {
  return !!p && typeof p === 'object' && typeof (p as HeaderRecord).format === 'string' && typeof (p as HeaderRecord).version === 'number';
}

export function isSuperseded(p: unknown): p is SupersededRecord {
  return !!p && typeof p === 'object' && typeof (p as SupersededRecord).superseded === 'number';
}

export function isLogRecord(p: unknown): p is LogRecord {
  if (!p || typeof p !== 'object') return false;
  const r = p as Record<string, unknown>;
  const isValue = (v: unknown): boolean => v === null || isHash(v);
  return typeof r.n === 'string' && isValue(r.o) && isValue(r.v) && typeof r.t === 'number'
    && (r.k === undefined || r.k === 'log' || r.k === 'set');
}
