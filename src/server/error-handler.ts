// One place maps every failure to the stable error shape {"error":{"code","message"}}
// (docs/ARCHITECTURE.md §3). Causes and stacks go to the log, never to the client.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { mapDatabaseError } from '../db/errors.ts';
import { AppError, type ErrorCode } from '../shared/errors.ts';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; [extra: string]: unknown };
}

export function sendError(reply: FastifyReply, error: AppError): FastifyReply {
  const body: ErrorBody = { error: { ...(error.details ?? {}), code: error.code, message: error.message } };
  return reply.status(error.status).type('application/json; charset=utf-8').send(body);
}

/** Fastify's own errors (parser, limits, routing) carry a code; translate the ones a client can cause. */
function fromFastifyError(err: FastifyError): AppError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'unsupported content type; send application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid_json', 'the request body is not valid JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('bad_request', 'the Content-Length header does not match the body');
    case 'FST_ERR_RATE_LIMIT':
      return new AppError('rate_limited', 'too many requests; slow down and try again');
    default:
      break;
  }
  if (err instanceof SyntaxError || (/JSON/.test(err.message ?? '') && err.statusCode === 400)) {
    return new AppError('invalid_json', 'the request body is not valid JSON');
  }
  if (err.statusCode === 429) return new AppError('rate_limited', 'too many requests; slow down and try again');
  if (err.statusCode === 413) return new AppError('payload_too_large', 'the request body is too large');
  if (err.statusCode === 415) return new AppError('unsupported_media_type', 'unsupported content type');
  if (err.statusCode === 400) return new AppError('bad_request', 'the request could not be understood');
  return undefined;
}

function validationMessage(err: FastifyError): string {
  if (!hasZodFastifySchemaValidationErrors(err)) return 'the request is not valid';
  const parts = err.validation.slice(0, 5).map((v) => {
    const where = `${err.validationContext ?? 'body'}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}`;
    return `${where}: ${v.message ?? 'invalid'}`;
  });
  return parts.join('; ');
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let appError: AppError | undefined;
    if (err instanceof AppError) appError = err;
    else if (hasZodFastifySchemaValidationErrors(err) || err.validation) {
      appError = new AppError('validation_failed', validationMessage(err));
    } else appError = mapDatabaseError(err) ?? fromFastifyError(err);

    if (!appError) {
      request.log.error({ err }, 'unhandled error');
      appError = new AppError('internal_error', 'something went wrong on our side; the error was logged');
    } else if (appError.status >= 500) {
      request.log.error({ err, code: appError.code }, appError.message);
    } else {
      // A database error mapped to a 4xx keeps its SQLSTATE in the log, so a bug that
      // surfaces as a data exception stays visible to the operator.
      const dbCode = (appError.cause as { code?: unknown } | undefined)?.code;
      request.log.info(
        { code: appError.code, status: appError.status, ...(typeof dbCode === 'string' ? { db_code: dbCode } : {}) },
        'request refused',
      );
    }
    // A limit that knows when it lifts says so (RFC 9110 §10.2.3); the body carries the same retry_after.
    const retryAfter = appError.details?.retry_after;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    if (appError.code === 'rate_limited' && !reply.getHeader('retry-after')) reply.header('retry-after', '60');
    return sendError(reply, appError);
  });
}
