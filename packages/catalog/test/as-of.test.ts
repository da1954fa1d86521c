import { describe, expect, it } from 'vitest';
import { isArmillariaError } from '@armillaria/core';
import { isRelativeTime, parseAsOf } from '../src/index.js';

describe('parseAsOf', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');

  it('takes Dates, ms, digit strings and ISO times as they are', () => {
    expect(parseAsOf(new Date(now), 0)).toBe(now);
    expect(parseAsOf(now, 0)).toBe(now);
    expect(parseAsOf(String(now), 0)).toBe(now);
    expect(parseAsOf('2026-12-01', 0)).toBe(Date.parse('2026-12-01T00:00:00Z'));
    expect(parseAsOf('2026-12-01T10:00Z', 0)).toBe(Date.parse('2026-12-01T10:00:00Z'));
  });

  it('counts relative times back from `now`, in words or git\'s dotted form; `m` is minutes', () => {
    const cases: Array<[string, number]> = [
      ['now', 0], ['yesterday', 86_400_000], ['3 days ago', 3 * 86_400_000], ['1.week.ago', 604_800_000],
      ['90 min ago', 90 * 60_000], ['2 m ago', 120_000], ['2.minutes.ago', 120_000], ['1 hour ago', 3_600_000],
      ['1.5 h ago', 5_400_000], ['30 seconds ago', 30_000], ['10s ago', 10_000], ['  2 Days Ago ', 2 * 86_400_000],
    ];
    for (const [text, back] of cases) {
      expect(isRelativeTime(text), text).toBe(true);
      expect(parseAsOf(text, now), text).toBe(now - back);
    }
  });

  it('refuses anything else with INVALID_ARGUMENT naming the forms it takes', () => {
    for (const text of ['last tuesday', '3 months ago', 'days ago', '3 days', 'yesterday-ish', '']) {
      expect(isRelativeTime(text), text).toBe(false);
      let err: unknown;
      try {
        parseAsOf(text, now);
      } catch (e) {
        err = e;
      }
      expect(isArmillariaError(err, 'INVALID_ARGUMENT'), text).toBe(true);
      expect((err as Error).message).toContain('a relative time such as "3 days ago"');
    }
  });
});
