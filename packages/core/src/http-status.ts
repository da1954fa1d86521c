import { ArmillariaError, ErrorCode } from './errors.js';

/** The one table from error code to HTTP status; every server and remote client goes through it. */
export const httpStatusByCode: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  INTERNAL: 500,
  BACKEND_UNAVAILABLE: 503,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  INVALID_HASH: 400,
  OBJECT_NOT_FOUND: 404,
  PRECONDITION_FAILED: 412,
  CHUNK_NOT_FOUND: 404,
  CHUNK_CORRUPT: 500,
  HASH_MISMATCH: 422,
  INVALID_NAME: 400,
  REPO_NOT_FOUND: 404,
  TABLE_NOT_FOUND: 404,
  TABLE_EXISTS: 409,
  BRANCH_NOT_FOUND: 404,
  BRANCH_EXISTS: 409,
  TAG_NOT_FOUND: 404,
  TAG_EXISTS: 409,
  REF_NOT_FOUND: 404,
  AMBIGUOUS_REF: 400,
  REF_CONFLICT: 409,
  COMMIT_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  SCHEMA_MISMATCH: 400,
  PRIMARY_KEY_REQUIRED: 400,
  DUPLICATE_KEY: 400,
  MERGE_CONFLICT: 409,
  CORRUPT_METADATA: 500,
  TXN_CONFLICT: 409,
  TXN_NOT_FOUND: 404,
  TXN_ABORTED: 409,
  TXN_TIMEOUT: 408,
  QUERY_REFUSED: 400,
  QUERY_TIMEOUT: 408,
  LIMIT_EXCEEDED: 413,
  BRANCH_PROTECTED: 403,
};

export interface ErrorReplyBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
  details?: Record<string, unknown>;
}

const reasonPhrases: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 408: 'Request Timeout',
  409: 'Conflict', 412: 'Precondition Failed', 413: 'Payload Too Large', 415: 'Unsupported Media Type',
  422: 'Unprocessable Entity', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/**
 * Turns any thrown value into the `{statusCode, code, error, message}` body servers reply with.
 * Fastify's own errors (validation, body limit, bad content type) get stable codes too; unknown
 * errors become INTERNAL without leaking their message.
 */
export function errorReplyBody(err: unknown): ErrorReplyBody {
  let code: ErrorCode;
  let message: string;
  let details: Record<string, unknown> | undefined;
  let statusCode: number;
  if (err instanceof ArmillariaError) {
    code = err.code;
    message = err.message;
    details = err.details ? { ...err.details } : undefined;
    statusCode = httpStatusByCode[code];
  } else {
    const e = err as { code?: unknown; statusCode?: unknown; validation?: unknown; message?: unknown };
    const fastifyStatus = typeof e?.statusCode === 'number' ? e.statusCode : 500;
    if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fastifyStatus === 413) {
      code = ErrorCode.PayloadTooLarge;
      statusCode = 413;
      message = 'request body is larger than this endpoint accepts';
    } else if (e?.validation || (fastifyStatus >= 400 && fastifyStatus < 500)) {
      code = ErrorCode.InvalidArgument;
      statusCode = fastifyStatus === 415 ? 415 : 400;
      message = typeof e?.message === 'string' ? e.message : 'bad request';
    } else {
      code = ErrorCode.Internal;
      statusCode = 500;
      message = 'internal error';
    }
  }
  const body: ErrorReplyBody = { statusCode, code, error: reasonPhrases[statusCode] ?? 'Error', message };
  if (details) body.details = details;
  return body;
}
