// A real SMTP server on loopback (the `smtp-server` package) that records every
// message it accepts, parsed with `mailparser`. AUTH PLAIN/LOGIN against one
// username/password; recipients matching `rejectRecipient` get a 550 at RCPT (a hard
// bounce), those matching `deferRecipient` a 451 (temporary). Plaintext by default (no
// STARTTLS offered); `tls: 'implicit'` serves TLS with a self-signed certificate,
// `tls: 'starttls'` offers STARTTLS with it.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  envelopeFrom: string;
  envelopeTo: string[];
  raw: string;
  parsed: ParsedMail;
}

export interface SmtpFake {
  host: string;
  port: number;
  username: string;
  password: string;
  received: ReceivedMail[];
  /** Successful and failed AUTH attempts. */
  auths: Array<{ username: string; ok: boolean }>;
  connections: number;
  /** Connections open now (opened minus closed). */
  open: number;
  rejectRecipient: (to: string) => boolean;
  deferRecipient: (to: string) => boolean;
  /** Resolves when `count` messages have been received (or rejects after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startSmtpFake(
  options: {
    tls?: 'none' | 'implicit' | 'starttls';
    username?: string;
    password?: string;
    parse?: boolean;
    /** false: count messages (received.length grows) without keeping their text — for benchmarks. */
    keep?: boolean;
  } = {},
): Promise<SmtpFake> {
  const username = options.username ?? 'relay-user';
  const password = options.password ?? `pw-${randomBytes(9).toString('base64url')}`;
  const tls = options.tls ?? 'none';
  let cert: { cert: string; key: string } | undefined;
  if (tls !== 'none') {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
    cert = { cert: pems.cert, key: pems.private };
  }
  const fake: SmtpFake = {
    host: '127.0.0.1',
    port: 0,
    username,
    password,
    received: [],
    auths: [],
    connections: 0,
    open: 0,
    rejectRecipient: () => false,
    deferRecipient: () => false,
    waitFor: async () => undefined,
    close: async () => undefined,
  };
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server = new SMTPServer({
    secure: tls === 'implicit',
    ...(cert ? { key: cert.key, cert: cert.cert } : {}),
    disabledCommands: tls === 'starttls' ? [] : ['STARTTLS'],
    allowInsecureAuth: tls === 'none',
    authMethods: ['PLAIN', 'LOGIN'],
    size: 10 * 1024 * 1024,
    logger: false,
    onConnect(_session, cb) {
      fake.connections++;
      fake.open++;
      cb();
    },
    onClose() {
      fake.open--;
    },
    onAuth(auth, _session, cb) {
      const ok = auth.username === username && auth.password === password;
      fake.auths.push({ username: auth.username ?? '', ok });
      if (!ok) return cb(new Error('Invalid username or password'));
      cb(null, { user: auth.username });
    },
    onRcptTo(address, _session, cb) {
      if (fake.rejectRecipient(address.address)) {
        return cb(Object.assign(new Error('5.1.1 mailbox does not exist'), { responseCode: 550 }));
      }
      if (fake.deferRecipient(address.address)) {
        return cb(Object.assign(new Error('4.2.0 try again later'), { responseCode: 451 }));
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const done = (parsed: ParsedMail) => {
          fake.received.push({
            envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            raw: options.keep === false ? '' : raw,
            parsed,
          });
          for (const w of waiters.splice(0)) {
            if (fake.received.length >= w.count) w.resolve();
            else waiters.push(w);
          }
          cb();
        };
        if (options.parse === false) done({} as ParsedMail);
        else simpleParser(raw).then(done, (e: Error) => cb(e));
      });
    },
  });
  // Clients that hang up mid-handshake (an untrusted certificate) are not the fake's failure.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.port = (server.server.address() as AddressInfo).port;
  fake.waitFor = (count, timeoutMs = 20_000) =>
    fake.received.length >= count
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const t = setTimeout(
            () => reject(new Error(`SMTP fake: ${fake.received.length}/${count} messages after ${timeoutMs} ms`)),
            timeoutMs,
          );
          waiters.push({
            count,
            resolve: () => {
              clearTimeout(t);
              resolve();
            },
          });
        });
  fake.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return fake;
}
