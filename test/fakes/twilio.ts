// A local Twilio REST API and webhook sender (docs/ARCHITECTURE.md §4): real HTTP on loopback, the
// same paths, auth, error bodies and webhook signatures as api.twilio.com, so the
// integration is tested over the protocol and not against a mock object. Usable in
// development too: `TWILIO_API_BASE=<fake.url>`.
//
// The signing code here is deliberately independent of src/integrations/twilio: a
// test cross-checks both against the official `twilio` package's validateRequest.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface FakeAccount {
  sid: string;
  authToken: string;
  friendlyName?: string;
}

export interface FakeMessage {
  sid: string;
  accountSid: string;
  to: string;
  from: string;
  body: string;
  status: string;
  statusCallback: string | undefined;
  /** When the fake accepted it (Twilio's date_created; the fake "sends" at once, so also date_sent). */
  createdAt: Date;
  /** The path label of the node that sent it (TWILIO_API_BASE = <fake url>/_node/<label>), if any. */
  node: string | undefined;
}

export interface WebhookResult {
  status: number;
  body: string;
}

/** A Twilio API error to return instead of sending (https://www.twilio.com/docs/api/errors). */
export interface FakeSendError {
  code: number;
  status?: number;
  message?: string;
}

export interface TwilioFake {
  /** Base URL, e.g. http://127.0.0.1:41234 — pass as TWILIO_API_BASE. */
  url: string;
  addAccount(account?: Partial<FakeAccount>): FakeAccount;
  /** Every Messages.json call that was accepted, in order. */
  readonly messages: FakeMessage[];
  /** Every API request received (method, path, whether Basic auth matched). */
  readonly requests: Array<{ method: string; path: string; authorized: boolean }>;
  /** The next sends to `to` (or any number when omitted) fail with this Twilio error. */
  failSendsTo(error: FakeSendError, to?: string): void;
  /** POST a status callback for a message to its StatusCallback URL, signed with the account's token. */
  deliverStatus(
    messageSid: string,
    status: 'sent' | 'delivered' | 'undelivered' | 'failed',
    extra?: Record<string, string>,
  ): Promise<WebhookResult>;
  /** Send an inbound SMS to a webhook URL, signed as Twilio signs it. */
  sendInbound(
    webhookUrl: string,
    account: FakeAccount,
    msg: { from: string; to: string; body: string; messageSid?: string },
  ): Promise<WebhookResult>;
  /** POST arbitrary form params to a URL with a signature computed by the fake (or the given header). */
  postSigned(
    url: string,
    authToken: string,
    params: Record<string, string>,
    options?: { signature?: string | null; signUrl?: string },
  ): Promise<WebhookResult>;
  close(): Promise<void>;
}

/** Twilio's webhook signature: base64(HMAC-SHA1(token, url + Σ sorted(key + value))). */
export function twilioSignature(authToken: string, url: string, params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

export const randomSid = (prefix: string) => prefix + randomBytes(16).toString('hex');
export const randomToken = () => randomBytes(16).toString('hex');

const ERROR_MESSAGES: Record<number, string> = {
  20003: 'Authenticate',
  20404: 'The requested resource was not found',
  21211: "The 'To' number is not a valid phone number.",
  21610: 'Attempt to send to unsubscribed recipient',
  21614: "'To' number is not a valid mobile number",
  30007: 'Message filtered',
};

export interface TwilioFakeOptions {
  autoStatusCallbacks?: boolean;
  /** Called for each accepted message; 'drop-response' cuts the connection instead of answering. */
  onAccept?: (msg: FakeMessage) => 'drop-response' | void;
}

export async function startTwilioFake(options: TwilioFakeOptions = {}): Promise<TwilioFake> {
  const accounts = new Map<string, FakeAccount>();
  const messages: FakeMessage[] = [];
  const requests: TwilioFake['requests'] = [];
  const failures: Array<{ error: FakeSendError; to?: string }> = [];

  function sendJson(res: http.ServerResponse, status: number, body: unknown) {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }
  function sendError(res: http.ServerResponse, status: number, code: number, message?: string) {
    sendJson(res, status, {
      code,
      message: message ?? ERROR_MESSAGES[code] ?? 'Error',
      more_info: `https://www.twilio.com/docs/errors/${code}`,
      status,
    });
  }
  function authorize(req: http.IncomingMessage, sid: string): FakeAccount | undefined {
    const header = req.headers.authorization ?? '';
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
    if (!m) return undefined;
    const [user, pass] = Buffer.from(m[1]!, 'base64').toString('utf8').split(':');
    const account = accounts.get(sid);
    return account && user === sid && pass === account.authToken ? account : undefined;
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      // Tests give each app node its own base (<fake>/_node/<label>) to see which node sent what.
      const labelled = /^\/_node\/([a-z0-9-]{1,20})(\/.*)$/.exec(url.pathname);
      const node = labelled?.[1];
      const pathname = labelled ? labelled[2]! : url.pathname;
      const account = /^\/2010-04-01\/Accounts\/([^/]+?)(\.json|\/Messages\.json)$/.exec(pathname);
      if (!account) return sendError(res, 404, 20404);
      const sid = decodeURIComponent(account[1]!);
      const acct = authorize(req, sid);
      requests.push({ method: req.method ?? '', path: pathname, authorized: Boolean(acct) });
      // Twilio answers 401 with code 20003 for a wrong SID or token alike.
      if (!acct) {
        res.setHeader('www-authenticate', 'Basic realm="Twilio API"');
        return sendError(res, 401, 20003);
      }
      if (account[2] === '.json' && req.method === 'GET') {
        // The real Account resource includes the auth token: callers must not echo it.
        return sendJson(res, 200, {
          sid: acct.sid,
          friendly_name: acct.friendlyName ?? 'Fake account',
          status: 'active',
          type: 'Full',
          auth_token: acct.authToken,
          date_created: new Date().toUTCString(),
          uri: `/2010-04-01/Accounts/${acct.sid}.json`,
        });
      }
      if (account[2] === '/Messages.json' && req.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const to = form.get('To') ?? '';
        const from = form.get('From') ?? '';
        const body = form.get('Body') ?? '';
        if (!/^\+[1-9]\d{6,14}$/.test(to)) return sendError(res, 400, 21211);
        const failureAt = failures.findIndex((f) => f.to === undefined || f.to === to);
        if (failureAt >= 0) {
          const [{ error }] = failures.splice(failureAt, 1) as [{ error: FakeSendError }];
          return sendError(res, error.status ?? 400, error.code, error.message);
        }
        const msg: FakeMessage = {
          sid: randomSid('SM'),
          accountSid: acct.sid,
          to,
          from,
          body,
          status: 'queued',
          statusCallback: form.get('StatusCallback') ?? undefined,
          createdAt: new Date(),
          node,
        };
        messages.push(msg);
        if (options.onAccept?.(msg) === 'drop-response') {
          // Accepted, but the answer is lost on the way back (a crash or a cut connection).
          req.socket.destroy();
          return;
        }
        sendJson(res, 201, {
          sid: msg.sid,
          account_sid: acct.sid,
          to,
          from,
          body,
          status: 'queued',
          direction: 'outbound-api',
          num_segments: '1',
          error_code: null,
          error_message: null,
          date_created: new Date().toUTCString(),
          uri: `/2010-04-01/Accounts/${acct.sid}/Messages/${msg.sid}.json`,
        });
        if (options.autoStatusCallbacks && msg.statusCallback) {
          setTimeout(() => {
            void fake
              .deliverStatus(msg.sid, 'sent')
              .then(() => fake.deliverStatus(msg.sid, 'delivered'))
              .catch(() => undefined);
          }, 10);
        }
        return;
      }
      if (account[2] === '/Messages.json' && req.method === 'GET') {
        // Read multiple Message resources, with Twilio's filters (To, From, DateSent,
        // DateSent<, DateSent> — an ISO 8601 date or date-time) and paging (PageSize,
        // Page, PageToken), newest first, in Twilio's list envelope.
        const q = url.searchParams;
        const day = (d: Date) => d.toISOString().slice(0, 10);
        const bound = (v: string | null) => (v ? new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v) : null);
        const after = bound(q.get('DateSent>'));
        const before = bound(q.get('DateSent<'));
        const on = q.get('DateSent');
        const matching = messages
          .filter(
            (m) =>
              m.accountSid === acct.sid &&
              (!q.get('To') || m.to === q.get('To')) &&
              (!q.get('From') || m.from === q.get('From')) &&
              (!after || m.createdAt >= after) &&
              (!before || m.createdAt <= before) &&
              (!on || day(m.createdAt) === on.slice(0, 10)),
          )
          .reverse();
        const pageSize = Math.min(Math.max(Number(q.get('PageSize') ?? 50) || 50, 1), 1000);
        const page = Math.max(Number(q.get('Page') ?? 0) || 0, 0);
        const slice = matching.slice(page * pageSize, (page + 1) * pageSize);
        const base = `/2010-04-01/Accounts/${acct.sid}/Messages.json`;
        const pageUri = (p: number) => {
          const next = new URLSearchParams(q);
          next.set('PageSize', String(pageSize));
          next.set('Page', String(p));
          next.set('PageToken', `PA${p}`);
          return `${base}?${next}`;
        };
        return sendJson(res, 200, {
          messages: slice.map((m) => ({
            account_sid: m.accountSid,
            api_version: '2010-04-01',
            body: m.body,
            date_created: m.createdAt.toUTCString(),
            date_sent: m.createdAt.toUTCString(),
            date_updated: m.createdAt.toUTCString(),
            direction: 'outbound-api',
            error_code: null,
            error_message: null,
            from: m.from,
            num_media: '0',
            num_segments: '1',
            price: null,
            price_unit: 'USD',
            sid: m.sid,
            status: m.status,
            to: m.to,
            uri: `/2010-04-01/Accounts/${m.accountSid}/Messages/${m.sid}.json`,
          })),
          end: page * pageSize + Math.max(slice.length - 1, 0),
          first_page_uri: pageUri(0),
          next_page_uri: (page + 1) * pageSize < matching.length ? pageUri(page + 1) : null,
          page,
          page_size: pageSize,
          previous_page_uri: page > 0 ? pageUri(page - 1) : null,
          start: page * pageSize,
          uri: `${base}?${q}`,
        });
      }
      return sendError(res, 405, 20004, 'Method not allowed');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  function post(url: string, body: string, headers: Record<string, string>): Promise<WebhookResult> {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        u,
        {
          method: 'POST',
          // Capto's dev/test servers use self-signed certificates.
          rejectUnauthorized: false,
          agent: false,
          headers: {
            'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
            'content-length': String(Buffer.byteLength(body)),
            'user-agent': 'TwilioProxy/1.1',
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  const fake: TwilioFake = {
    url: `http://127.0.0.1:${port}`,
    messages,
    requests,
    addAccount(account = {}) {
      const a: FakeAccount = {
        sid: account.sid ?? randomSid('AC'),
        authToken: account.authToken ?? randomToken(),
        friendlyName: account.friendlyName,
      };
      accounts.set(a.sid, a);
      return a;
    },
    failSendsTo(error, to) {
      failures.push({ error, to });
    },
    postSigned(url, authToken, params, opts = {}) {
      const headers: Record<string, string> = {};
      if (opts.signature !== null)
        headers['x-twilio-signature'] = opts.signature ?? twilioSignature(authToken, opts.signUrl ?? url, params);
      return post(url, new URLSearchParams(params).toString(), headers);
    },
    async deliverStatus(messageSid, status, extra = {}) {
      const msg = messages.find((m) => m.sid === messageSid);
      if (!msg?.statusCallback) throw new Error(`fake Twilio: no message ${messageSid} with a StatusCallback`);
      const account = accounts.get(msg.accountSid)!;
      msg.status = status;
      const params: Record<string, string> = {
        AccountSid: msg.accountSid,
        ApiVersion: '2010-04-01',
        From: msg.from,
        MessageSid: msg.sid,
        MessageStatus: status,
        SmsSid: msg.sid,
        SmsStatus: status,
        To: msg.to,
        ...(status === 'failed' || status === 'undelivered' ? { ErrorCode: '30007' } : {}),
        ...extra,
      };
      return fake.postSigned(msg.statusCallback, account.authToken, params);
    },
    sendInbound(webhookUrl, account, msg) {
      const sid = msg.messageSid ?? randomSid('SM');
      const params: Record<string, string> = {
        AccountSid: account.sid,
        ApiVersion: '2010-04-01',
        Body: msg.body,
        From: msg.from,
        FromCountry: 'US',
        MessageSid: sid,
        NumMedia: '0',
        NumSegments: '1',
        SmsMessageSid: sid,
        SmsSid: sid,
        SmsStatus: 'received',
        To: msg.to,
        ToCountry: 'US',
      };
      return fake.postSigned(webhookUrl, account.authToken, params);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
  return fake;
}

// Development: `node --import tsx test/fakes/twilio.ts` serves the fake and prints an
// account to add in Settings → Integrations (start Capto with TWILIO_API_BASE=<url>).
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const fake = await startTwilioFake({ autoStatusCallbacks: true });
  const account = fake.addAccount();
  console.log(
    `Twilio fake at ${fake.url}\n  TWILIO_API_BASE=${fake.url}\n  account_sid=${account.sid}\n  auth_token=${account.authToken} (a fake, dev-only credential)`,
  );
}
