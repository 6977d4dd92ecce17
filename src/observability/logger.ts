// Structured JSON logs (P10) with secrets redacted. The redaction list covers the
// headers and body fields that carry credentials; `redactSecrets` is a second net
// for free-form objects (anything whose key looks like a token, secret or password).
import { pino, type Logger, type LoggerOptions } from 'pino';
import type { Config } from '../config/index.ts';

const SECRET_KEY =
  /(pass(word)?|secret|token|authorization|cookie|api[-_]?key|private[-_]?key|ciphertext|master[-_]?key|signature)/i;

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-twilio-signature"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.new_password',
  '*.current_password',
  '*.auth_token',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.token',
  '*.secret',
  '*.client_secret',
  '*.api_key',
  '*.apiKey',
  'password',
  'auth_token',
  'token',
  'secret',
  'api_key',
  'apiKey',
];

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level: config.logLevel,
    base: { service: 'capto' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Deep copy of `value` with every secret-looking key replaced by "[redacted]". */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) ? '[redacted]' : redactSecrets(v, depth + 1);
  }
  return out;
}

export type { Logger };
