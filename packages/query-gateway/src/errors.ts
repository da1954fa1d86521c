import { ArmillariaError, ErrorCode } from '@armillaria/core';

/** The statement is not a single read query, or reaches outside the tables of the repo (QUERY_REFUSED). */
export class QueryRefusedError extends ArmillariaError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.QueryRefused, message, details ? { details } : undefined);
  }
}

/** The query ran past its time limit and was interrupted (QUERY_TIMEOUT). */
export class QueryTimeoutError extends ArmillariaError {
  constructor(readonly timeoutMs: number) {
    super(ErrorCode.QueryTimeout, `query interrupted after its ${timeoutMs} ms time limit`, { details: { timeoutMs } });
  }
}

/** The result is larger than the row or byte limit (LIMIT_EXCEEDED). */
export class LimitExceededError extends ArmillariaError {
  constructor(readonly limit: 'rows' | 'bytes', readonly max: number) {
    super(ErrorCode.LimitExceeded, `query result exceeds the limit of ${max} ${limit}; add a LIMIT or aggregate`, { details: { limit, max } });
  }
}
