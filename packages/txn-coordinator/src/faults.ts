import { InvalidArgumentError } from '@armillaria/core';

/** Points in a commit where a crash test can kill the process (env ARMILLARIA_FAULT). */
export const FAULT_POINTS = ['after-upload', 'after-prepare', 'after-cas', 'after-publish'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export function parseFaultPoint(value: string | undefined): FaultPoint | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(FAULT_POINTS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`ARMILLARIA_FAULT=${JSON.stringify(value)}: expected one of ${FAULT_POINTS.join(', ')}`, { details: { key: 'ARMILLARIA_FAULT' } });
  }
  return value as FaultPoint;
}

/**
 * Dies with SIGKILL (no cleanup, no flush: the harshest crash a process can have) when `point` is the
 * configured fault. Test-only by construction: nothing happens unless ARMILLARIA_FAULT is set.
 */
export function faultAt(configured: FaultPoint | undefined, point: FaultPoint): void {
  if (configured === point) process.kill(process.pid, 'SIGKILL');
}
