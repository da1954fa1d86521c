import { InvalidArgumentError, isHash } from '@armillaria/core';
import type { SubscribeFrom } from '../changelog.js';

/**
 * The `from` query parameter: `latest` (default), `earliest`, `commit:<ref>`, `time:<ISO or ms>`,
 * `version:<n>` or `version:<table>:<n>`, `after:<commit>:<table>` (resume right after one event; an
 * SSE `Last-Event-ID` of `<commit>:<table>` means the same). A bare commit hash is `commit:<hash>`.
 */
export function parseFrom(raw: string | undefined): SubscribeFrom {
  if (raw === undefined || raw === '' || raw === 'latest') return 'latest';
  if (raw === 'earliest') return 'earliest';
  if (/^[0-9a-f]{64}$/.test(raw)) return { commit: raw };
  const colon = raw.indexOf(':');
  const kind = colon < 0 ? raw : raw.slice(0, colon);
  const rest = colon < 0 ? '' : raw.slice(colon + 1);
  const bad = (): never => {
    throw new InvalidArgumentError(`invalid from=${JSON.stringify(raw)}: use latest, earliest, commit:<ref>, time:<t>, version:[<table>:]<n> or after:<commit>:<table>`, { details: { field: 'from' } });
  };
  if (!rest) return bad();
  switch (kind) {
    case 'commit':
      return { commit: rest };
    case 'time':
      return { time: /^\d+$/.test(rest) ? Number(rest) : rest };
    case 'version': {
      const i = rest.lastIndexOf(':');
      const n = Number(i < 0 ? rest : rest.slice(i + 1));
      if (!Number.isInteger(n) || n < 1) return bad();
      return i < 0 ? { version: n } : { version: n, table: rest.slice(0, i) };
    }
    case 'after':
      return afterEventId(rest) ?? bad();
    default:
      return bad();
  }
}

/** SSE event id of a change event: `<commit>:<table>`. */
export function eventId(e: { commit: string; table: string }): string {
  return `${e.commit}:${e.table}`;
}

export function afterEventId(id: string): { afterEvent: { commit: string; table: string } } | undefined {
  const commit = id.slice(0, 64);
  const table = id.slice(65);
  return isHash(commit) && id[64] === ':' && table ? { afterEvent: { commit, table } } : undefined;
}
