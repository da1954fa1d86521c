import { AsyncLocalStorage } from 'node:async_hooks';

/** What a service knows about the request it is serving, wherever the work happens to run. */
export interface RequestContext {
  readonly requestId: string;
}

// One store per process: the service app enters it for each request, and HttpClient reads it so a
// call made while serving request X carries `x-request-id: X` to the next service without every
// library passing ids around by hand.
const storage = new AsyncLocalStorage<RequestContext>();

/** The id of the request being served by this async call chain, if any. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Runs `fn` (and everything it starts) as part of request `requestId`. */
export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

/** Request ids are echoed into logs and headers: accept only short, plain tokens from callers. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function isValidRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}
