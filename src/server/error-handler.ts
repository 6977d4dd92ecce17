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

// Field names as people say them (docs/ARCHITECTURE.md §20 "Errors for people").
const ACRONYMS: Record<string, string> = {
  nmls: 'NMLS',
  id: 'ID',
  ids: 'IDs',
  url: 'URL',
  sms: 'SMS',
  sid: 'SID',
  csv: 'CSV',
};
const LABELS: Record<string, string> = {
  amount_cents: 'Amount',
  rate_percent: 'Rate',
  contact_id: 'Contact',
  co_borrower_id: 'Co-borrower',
  partner_id: 'Referral partner',
  owner_id: 'Owner',
  assignee_id: 'Assignee',
  expected_close_date: 'Expected close date',
  due_date: 'Due date',
};

export function fieldLabel(path: readonly PropertyKey[]): string {
  const key = [...path].reverse().find((p): p is string => typeof p === 'string' && !/^\d+$/.test(p));
  if (!key) return 'The request';
  if (LABELS[key]) return LABELS[key];
  const words = key.split('_').map((w) => ACRONYMS[w] ?? w);
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// zod's own messages start like these; a schema's custom message is used as written.
const ZOD_DEFAULT = /^(Too (small|big)|Invalid|Unrecognized|Expected)/;

interface Issue {
  code?: string;
  path: PropertyKey[];
  message: string;
  params: Record<string, unknown>;
}

/** One validation issue as a sentence a person can act on ("NMLS number must be 1–12 digits."). */
export function issueSentence(issue: Issue): string {
  const p = issue.params;
  const label = fieldLabel(issue.path);
  const end = (t: string) => (/[.!?]$/.test(t) ? t : `${t}.`);
  if (!ZOD_DEFAULT.test(issue.message)) {
    const m = issue.message.trim();
    return end(m.charAt(0).toUpperCase() + m.slice(1));
  }
  const n = (v: unknown) => (typeof v === 'bigint' ? v.toString() : String(v));
  switch (issue.code) {
    case 'too_small':
      if (p.origin === 'string')
        return Number(p.minimum) <= 1
          ? `${label} is required.`
          : `${label} must be at least ${n(p.minimum)} characters.`;
      if (p.origin === 'array' || p.origin === 'set') return `${label} needs at least ${n(p.minimum)}.`;
      return `${label} must be at least ${n(p.minimum)}.`;
    case 'too_big':
      if (p.origin === 'string') return `${label} must be at most ${n(p.maximum)} characters.`;
      if (p.origin === 'array' || p.origin === 'set') return `${label} can have at most ${n(p.maximum)}.`;
      return `${label} must be at most ${n(p.maximum)}.`;
    case 'invalid_type': {
      // zod does not report the input itself; its default message says what it received.
      if (/received undefined/.test(issue.message)) return `${label} is required.`;
      const expected: Record<string, string> = {
        string: 'text',
        number: 'a number',
        int: 'a whole number',
        boolean: 'yes or no',
        array: 'a list',
        object: 'an object',
        null: 'empty',
      };
      return `${label} must be ${expected[n(p.expected)] ?? n(p.expected)}.`;
    }
    case 'invalid_format': {
      const formats: Record<string, string> = {
        email: 'an email address',
        uuid: 'a valid ID',
        date: 'a date (YYYY-MM-DD)',
        datetime: 'a date and time',
        url: 'a web address',
      };
      const f = formats[n(p.format)];
      return f ? `${label} must be ${f}.` : `${label} is not in the expected format.`;
    }
    case 'invalid_value': {
      const values = Array.isArray(p.values) ? p.values.map((v) => n(v).replace(/_/g, ' ')) : [];
      return values.length
        ? `${label} must be one of: ${values.join(', ')}.`
        : `${label} has a value that is not allowed.`;
    }
    case 'not_multiple_of':
      return `${label} must be a multiple of ${n(p.divisor)}.`;
    case 'unrecognized_keys': {
      const keys = Array.isArray(p.keys) ? p.keys.map(n) : [];
      return `${keys.join(', ')} ${keys.length === 1 ? 'is not a field' : 'are not fields'} this request accepts.`;
    }
    default:
      return `${label} is not valid.`;
  }
}

function validationMessage(err: FastifyError): string {
  if (!hasZodFastifySchemaValidationErrors(err)) return 'the request is not valid';
  return err.validation
    .slice(0, 5)
    .map((v) =>
      issueSentence({
        code: v.keyword,
        path: v.instancePath.split('/').filter(Boolean),
        message: v.message ?? 'Invalid',
        params: (v.params ?? {}) as Record<string, unknown>,
      }),
    )
    .join(' ');
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
