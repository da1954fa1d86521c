import { MAX_REFLOG_TIME } from './ref-args.js';

/**
 * Object keys of ObjectStoreRefStore. Markers are segments starting with `~`, which no ref name
 * segment can, so `a/b` and `a/b/c` never collide on any backend (on disk a key cannot be both a file
 * and a directory):
 *   <prefix>refs/<name>/~ref                                 the ref object (value or tombstone)
 *   <prefix>reflog/<name>/~log/<inverted time>-<inverted version>   one immutable object per entry
 * Inverted numbers are `MAX - n`, zero-padded to 15 digits, so a plain ascending listing is newest
 * first, and entries of the same millisecond come newest version first.
 */
export const REF_MARKER = '~ref';
const LOG_MARKER = '~log';
const DIGITS = 15;
const MAX = MAX_REFLOG_TIME; // 10^15 - 1: times and versions both fit in 15 digits

const invert = (n: number): string => String(MAX - n).padStart(DIGITS, '0');

export class RefKeys {
  constructor(private readonly prefix: string) {}

  ref(name: string): string {
    return `${this.prefix}refs/${name}/${REF_MARKER}`;
  }

  /** What to list for refs whose names start with `namePrefix`. */
  refsListPrefix(namePrefix: string): string {
    return `${this.prefix}refs/${namePrefix}`;
  }

  /** The ref name a listed key belongs to, or undefined for keys that are not ref objects. */
  nameOf(key: string): string | undefined {
    const head = `${this.prefix}refs/`;
    const tail = `/${REF_MARKER}`;
    return key.startsWith(head) && key.endsWith(tail) ? key.slice(head.length, -tail.length) : undefined;
  }

  logDir(name: string): string {
    return `${this.prefix}reflog/${name}/${LOG_MARKER}/`;
  }

  logEntry(name: string, time: number, version: number): string {
    return `${this.logDir(name)}${invert(time)}-${invert(version)}`;
  }

  /** What to list for the reflogs of refs whose names start with `namePrefix`. */
  logsListPrefix(namePrefix: string): string {
    return `${this.prefix}reflog/${namePrefix}`;
  }

  /** The ref name and entry time of a listed reflog key; undefined for keys that are not reflog entries. */
  logEntryOf(key: string): { name: string; time: number } | undefined {
    const head = `${this.prefix}reflog/`;
    const at = key.indexOf(`/${LOG_MARKER}/`, head.length);
    if (!key.startsWith(head) || at < 0) return undefined;
    const inverted = key.slice(at + LOG_MARKER.length + 2, at + LOG_MARKER.length + 2 + DIGITS);
    if (!/^\d{15}$/.test(inverted)) return undefined;
    return { name: key.slice(head.length, at), time: MAX - Number(inverted) };
  }

  /** `startAfter` that skips every entry with `time >= before` (before an integer in (0, MAX]). */
  logStartAfter(name: string, before: number): string {
    return `${this.logDir(name)}${invert(before)}-~`;
  }
}
