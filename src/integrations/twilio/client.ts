// The Twilio REST client (2010-04-01 API): account lookup and Messages.json. The base
// URL is operator configuration (TWILIO_API_BASE) and nothing a tenant sends can
// change it, so a stored token is only ever sent to Twilio (P5: no exfiltration by
// pointing the integration at your own server). Redirects are refused for the same
// reason. Errors carry Twilio's numeric code, never the request or its credentials.
import { AppError } from '../../shared/errors.ts';

export class TwilioApiError extends Error {
  override name = 'TwilioApiError';
  readonly httpStatus: number;
  /** Twilio's error code (https://www.twilio.com/docs/api/errors), when it sent one. */
  readonly code: number | null;
  constructor(httpStatus: number, code: number | null, message: string) {
    super(message);
    this.httpStatus = httpStatus;
    this.code = code;
  }
}

export interface SendMessageInput {
  accountSid: string;
  authToken: string;
  from: string;
  to: string;
  body: string;
  statusCallback: string;
  /** Give up after this long (default 10 s): the outbox keeps it below its lease. */
  timeoutMs?: number;
}

export interface ListMessagesInput {
  accountSid: string;
  authToken: string;
  from: string;
  to: string;
  /** Messages sent after this time (Twilio's `DateSent>` filter). */
  sentAfter: Date;
  timeoutMs?: number;
}

/** A Message resource as the list returns it (the fields the outbox reconciles on). */
export interface ListedMessage {
  sid: string;
  to: string;
  from: string;
  body: string;
  status: string;
  dateCreated: Date | null;
}

export interface TwilioClient {
  /** true: the SID/token pair is accepted by Twilio; false: Twilio says it is not. */
  verifyCredentials(accountSid: string, authToken: string): Promise<boolean>;
  sendMessage(input: SendMessageInput): Promise<{ sid: string; status: string }>;
  /**
   * Messages from one number to another sent after a time, newest first, all pages (at
   * most 1000): how the outbox finds out whether a send whose answer it lost went out.
   */
  listMessages(input: ListMessagesInput): Promise<ListedMessage[]>;
}

const TIMEOUT_MS = 10_000;

export function createTwilioClient(apiBase: string): TwilioClient {
  const base = apiBase.replace(/\/+$/, '');

  async function call(
    method: 'GET' | 'POST',
    path: string,
    sid: string,
    token: string,
    form?: URLSearchParams,
    timeoutMs = TIMEOUT_MS,
  ): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          authorization: `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`,
          accept: 'application/json',
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        body: form?.toString(),
      });
    } catch (e) {
      // Say what failed, not how: the cause (kept for the log) names no credential.
      throw new AppError('twilio_unreachable', 'Twilio could not be reached; try again shortly', {
        cause: e instanceof Error ? new Error(e.message) : undefined,
      });
    }
    const text = await res.text().catch(() => '');
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.status, body };
  }

  return Object.freeze({
    async verifyCredentials(accountSid: string, authToken: string) {
      const r = await call('GET', `/2010-04-01/Accounts/${encodeURIComponent(accountSid)}.json`, accountSid, authToken);
      if (r.status === 200) return true;
      if (r.status === 401 || r.status === 403 || r.status === 404) return false;
      throw new AppError(
        'twilio_unreachable',
        `Twilio answered ${r.status} to the credential check; try again shortly`,
      );
    },

    async sendMessage(input: SendMessageInput) {
      const form = new URLSearchParams({
        To: input.to,
        From: input.from,
        Body: input.body,
        StatusCallback: input.statusCallback,
      });
      const r = await call(
        'POST',
        `/2010-04-01/Accounts/${encodeURIComponent(input.accountSid)}/Messages.json`,
        input.accountSid,
        input.authToken,
        form,
        input.timeoutMs,
      );
      const body = (r.body ?? {}) as { sid?: unknown; status?: unknown; code?: unknown; message?: unknown };
      if (r.status === 201 || r.status === 200) {
        if (typeof body.sid !== 'string' || !/^(SM|MM)[0-9a-f]{32}$/i.test(body.sid)) {
          throw new TwilioApiError(r.status, null, 'Twilio accepted the message but returned no message SID');
        }
        return { sid: body.sid, status: typeof body.status === 'string' ? body.status : 'queued' };
      }
      const code = typeof body.code === 'number' ? body.code : null;
      const message = typeof body.message === 'string' ? body.message.slice(0, 200) : `HTTP ${r.status}`;
      throw new TwilioApiError(r.status, code, message);
    },

    async listMessages(input: ListMessagesInput) {
      const accountPath = `/2010-04-01/Accounts/${encodeURIComponent(input.accountSid)}/`;
      const query = new URLSearchParams({
        To: input.to,
        From: input.from,
        'DateSent>': input.sentAfter.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        PageSize: '100',
      });
      let path: string | null = `${accountPath}Messages.json?${query}`;
      const out: ListedMessage[] = [];
      for (let page = 0; path && page < 10; page++) {
        const r = await call('GET', path, input.accountSid, input.authToken, undefined, input.timeoutMs);
        const body = (r.body ?? {}) as {
          messages?: unknown;
          next_page_uri?: unknown;
          code?: unknown;
          message?: unknown;
        };
        if (r.status !== 200 || !Array.isArray(body.messages)) {
          const code = typeof body.code === 'number' ? body.code : null;
          throw new TwilioApiError(r.status, code, `listing messages failed (HTTP ${r.status})`);
        }
        for (const m of body.messages as Record<string, unknown>[]) {
          if (typeof m.sid !== 'string') continue;
          const created = typeof m.date_created === 'string' ? new Date(m.date_created) : null;
          out.push({
            sid: m.sid,
            to: String(m.to ?? ''),
            from: String(m.from ?? ''),
            body: String(m.body ?? ''),
            status: String(m.status ?? ''),
            dateCreated: created && !Number.isNaN(created.getTime()) ? created : null,
          });
        }
        // next_page_uri is a path on the same API (never a host: redirects elsewhere are refused).
        const next = typeof body.next_page_uri === 'string' ? body.next_page_uri : null;
        path = next && next.startsWith(accountPath) ? next : null;
      }
      return out;
    },
  });
}
