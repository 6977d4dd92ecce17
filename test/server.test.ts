// P1 and P12 plus the error shape: TLS 1.2+ only, HSTS and CSP, security.txt per
// RFC 9116, JSON errors with stable codes and no stack traces.
import tls from 'node:tls';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/observability/logger.ts';
import { buildApp, type RouteModule } from '../src/server/app.ts';
import { staticSecurityHeaders } from '../src/server/security-headers.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => s?.stop());

function handshake(port: number, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const protocol = socket.getProtocol() ?? 'unknown';
      socket.end();
      resolve(protocol);
    });
    socket.on('error', reject);
  });
}

describe('HTTPS', () => {
  it('refuses TLS 1.0 and 1.1 handshakes', async () => {
    // OpenSSL's default security level forbids TLS < 1.2 on the client side too; lower it for the probe.
    await expect(
      handshake(s.port, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }),
    ).rejects.toThrow();
    await expect(
      handshake(s.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }),
    ).rejects.toThrow();
  });

  it('accepts TLS 1.2 and 1.3', async () => {
    expect(await handshake(s.port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' })).toBe('TLSv1.2');
    expect(await handshake(s.port, { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' })).toBe('TLSv1.3');
  });

  it('sends HSTS, a strict CSP and the other security headers', async () => {
    const r = await request(`${s.url}/healthz`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ok' });
    expect(r.headers['strict-transport-security']).toMatch(/max-age=31536000/);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sends exactly helmet's headers on every response, an error included, built once at start", async () => {
    const expected = staticSecurityHeaders();
    expect(Object.keys(expected).length).toBeGreaterThan(8);
    for (const path of ['/healthz', '/api/no-such-route']) {
      const r = await request(`${s.url}${path}`);
      for (const [name, value] of Object.entries(expected)) expect(r.headers[name], `${path} ${name}`).toBe(value);
    }
    expect(expected['x-frame-options']).toBe('SAMEORIGIN');
    expect(expected['referrer-policy']).toBe('no-referrer');
    // A per-request directive (a nonce) cannot be frozen into a header built once.
    expect(() =>
      staticSecurityHeaders({ contentSecurityPolicy: { directives: { scriptSrc: [() => "'nonce-x'"] } } }),
    ).toThrow(/per request/);
  });

  it('answers /readyz after checking the database', async () => {
    const r = await request(`${s.url}/readyz`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ready' });
  });
});

describe('browser navigations', () => {
  it('"Continue with Google" on a server without Google sends the browser back to sign-in with the reason', async () => {
    const r = await request(`${s.url}/auth/google/start`);
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('/signin?error=google_not_configured');
  });
});

describe('security.txt (RFC 9116)', () => {
  it('has Contact, an Expires less than a year ahead, Preferred-Languages, Canonical and Policy', async () => {
    const r = await request(`${s.url}/.well-known/security.txt`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; charset=utf-8/);
    const fields = Object.fromEntries(
      r.text
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
    );
    expect(fields.Contact).toMatch(/^(mailto:|https:\/\/)/);
    const expires = new Date(fields.Expires!);
    expect(expires.getTime()).toBeGreaterThan(Date.now());
    expect(expires.getTime()).toBeLessThan(Date.now() + 365 * 24 * 3600 * 1000);
    expect(fields['Preferred-Languages']).toBe('en');
    expect(fields.Canonical).toBe(`${s.url}/.well-known/security.txt`);
    expect(fields.Policy).toMatch(/^https:\/\/.+\/security$/);
  });
});

describe('error shape', () => {
  // A probe route with a JSON body, mounted on the same app builder the server uses.
  let probe: FastifyInstance;
  beforeAll(async () => {
    const echo: RouteModule = (app) => {
      app.post(
        '/probe/echo',
        { schema: { body: z.object({ name: z.string().min(1).max(20) }) } },
        async (req) => req.body,
      );
      app.get('/probe/crash', async () => {
        throw new Error('secret internal detail at /srv/capto/src/x.ts:12');
      });
    };
    const built = await buildApp({
      config: loadConfig({ CAPTO_ENV: 'test', LOG_LEVEL: 'silent' }),
      db: s.db,
      logger: createLogger({ logLevel: 'silent' }),
      modules: [echo],
    });
    probe = built.app;
  });
  afterAll(async () => probe?.close());

  const inject = (o: InjectOptions) => probe.inject(o);

  it('malformed JSON → 400 invalid_json', async () => {
    const r = await inject({
      method: 'POST',
      url: '/probe/echo',
      payload: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: { code: 'invalid_json', message: expect.any(String) } });
  });

  it('a body that fails validation → 400 validation_failed naming the field', async () => {
    const r = await inject({ method: 'POST', url: '/probe/echo', payload: { name: 42 } });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('validation_failed');
    expect(r.json().error.message).toMatch(/\bname\b/i);
  });

  it('unknown route → 404 JSON; wrong method → 405 with Allow', async () => {
    const r = await request(`${s.url}/no/such/route`);
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    const m = await request(`${s.url}/healthz`, { method: 'DELETE' });
    expect(m.status).toBe(405);
    expect(m.headers.allow).toContain('GET');
    expect(m.json).toMatchObject({ error: { code: 'method_not_allowed' } });
  });

  it('a 2 MB body → 413 payload_too_large', async () => {
    const r = await inject({
      method: 'POST',
      url: '/probe/echo',
      payload: `{"name":"${'a'.repeat(2 * 1024 * 1024)}"}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toEqual({ error: { code: 'payload_too_large', message: expect.any(String) } });
  });

  it('an unsupported content type → 415', async () => {
    const r = await inject({
      method: 'POST',
      url: '/probe/echo',
      payload: 'name=x',
      headers: { 'content-type': 'application/x-weird' },
    });
    expect(r.statusCode).toBe(415);
    expect(r.json().error.code).toBe('unsupported_media_type');
  });

  it('an unexpected failure → 500 internal_error without the internal message or a stack trace', async () => {
    const r = await inject({ method: 'GET', url: '/probe/crash' });
    expect(r.statusCode).toBe(500);
    expect(r.json()).toEqual({ error: { code: 'internal_error', message: expect.any(String) } });
    expect(r.body).not.toContain('secret internal detail');
    expect(r.body).not.toMatch(/\.ts:\d+/);
  });
});
