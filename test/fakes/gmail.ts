// A local Gmail API (users.messages.send) on loopback: POST
// /gmail/v1/users/me/messages/send with `Authorization: Bearer <token>` and a JSON body
// `{raw: base64url RFC 822}`, as https://gmail.googleapis.com does. Tokens it accepts
// are set by the test; messages are parsed with mailparser and recorded. GET
// /gmail/v1/users/me/messages?q=rfc822msgid:<id> finds a sent message by its Message-ID
// (users.messages.list), which the outbox uses to reconcile a send whose answer was lost.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface GmailFake {
  url: string;
  acceptedTokens: Set<string>;
  sent: Array<{ id: string; token: string; raw: string; parsed: ParsedMail }>;
  requests: number;
  /** Answer this status to the next send instead of accepting it. */
  failNext: number | undefined;
  /** Accept the next send, then drop the connection without answering (a lost answer). */
  loseAnswerNext: boolean;
  close(): Promise<void>;
}

export async function startGmailFake(): Promise<GmailFake> {
  const fake: GmailFake = {
    url: '',
    acceptedTokens: new Set(),
    sent: [],
    requests: 0,
    failNext: undefined,
    loseAnswerNext: false,
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    fake.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? '/', 'http://fake');
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (req.method === 'GET' && url.pathname === '/gmail/v1/users/me/messages') {
        if (!fake.acceptedTokens.has(token))
          return json(401, { error: { code: 401, message: 'Request had invalid authentication credentials.' } });
        const want = /^rfc822msgid:<?([^>\s]+)>?$/.exec(url.searchParams.get('q') ?? '')?.[1];
        const hits = fake.sent.filter((m) => want && m.parsed.messageId === `<${want}>`);
        return json(200, hits.length ? { messages: hits.map((m) => ({ id: m.id, threadId: m.id })) } : {});
      }
      if (req.method !== 'POST' || url.pathname !== '/gmail/v1/users/me/messages/send')
        return json(404, { error: { code: 404, message: 'Not Found' } });
      if (!fake.acceptedTokens.has(token))
        return json(401, { error: { code: 401, message: 'Request had invalid authentication credentials.' } });
      if (fake.failNext !== undefined) {
        const status = fake.failNext;
        fake.failNext = undefined;
        return json(status, { error: { code: status, message: 'injected failure' } });
      }
      let raw: string;
      try {
        raw = Buffer.from(
          (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { raw: string }).raw,
          'base64url',
        ).toString('utf8');
      } catch {
        return json(400, { error: { code: 400, message: 'Invalid raw' } });
      }
      void simpleParser(raw).then((parsed) => {
        const id = randomBytes(8).toString('hex');
        fake.sent.push({ id, token, raw, parsed });
        if (fake.loseAnswerNext) {
          fake.loseAnswerNext = false;
          return req.socket.destroy();
        }
        json(200, { id, threadId: id, labelIds: ['SENT'] });
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return fake;
}
