// /metrics in Prometheus format, labelled by route PATTERN and status,
// served to a direct loopback caller or a bearer-token holder only — never to a
// remote caller, a proxied caller, or one spoofing X-Forwarded-For: 127.0.0.1.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/observability/logger.ts';
import { metrics } from '../src/observability/metrics.ts';
import { metricsModule } from '../src/observability/metrics-routes.ts';
import { buildApp } from '../src/server/app.ts';
import { ENGINE } from './support/engine.ts';
import { request } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const TOKEN = randomBytes(24).toString('hex');
let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ CAPTO_METRICS_TOKEN: TOKEN });
}, 240_000);
afterAll(async () => s?.stop());

const REMOTE = '203.0.113.7';
const scrape = (headers: Record<string, string> = {}, remoteAddress = REMOTE) =>
  s.app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers });

describe(`/metrics (${ENGINE})`, () => {
  it('serves Prometheus text to a direct loopback caller, by route pattern and status', async () => {
    expect((await request(`${s.url}/healthz`)).status).toBe(200);
    const bid = randomUUID();
    expect((await request(`${s.url}/api/businesses/${bid}/contacts`)).status).toBe(401);
    expect((await request(`${s.url}/no/such/${bid}`)).status).toBe(404);
    metrics.authEvents.inc({ type: 'signin.failed' });
    const forged = await request(`${s.url}/webhooks/twilio/${bid}/sms`, {
      raw: 'From=%2B15551112222&Body=hi',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'forged' },
    });
    expect(forged.status).toBe(403);

    const r = await request(`${s.url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.text).toMatch(/capto_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(r.text).toMatch(
      /capto_http_requests_total\{method="GET",route="\/api\/businesses\/:bid\/contacts",status="401"\} \d+/,
    );
    expect(r.text).toMatch(/capto_http_requests_total\{method="GET",route="unmatched",status="404"\} \d+/);
    expect(r.text).not.toContain(bid); // never a raw URL: ids would leak and labels explode
    expect(r.text).toMatch(
      /capto_http_request_duration_seconds_bucket\{le="0\.05",method="GET",route="\/healthz",status="200"\} \d+/,
    );
    expect(r.text).toMatch(/capto_db_pool_connections\{state="total"\} [1-9]/);
    expect(r.text).toMatch(/capto_db_pool_connections\{state="waiting"\} 0/);
    expect(r.text).toMatch(/capto_auth_events_total\{type="signin.failed"\} [1-9]/);
    expect(r.text).toMatch(/capto_webhook_signature_failures_total\{provider="twilio"\} [1-9]/);
    expect(r.text).toContain('# TYPE capto_scan_findings gauge');
  });

  it('refuses a remote caller without the token, and one with a wrong token', async () => {
    const none = await scrape();
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect(none.body).not.toContain('capto_http');
    const wrong = await scrape({ authorization: `Bearer ${TOKEN.slice(0, -1)}x` });
    expect(wrong.statusCode).toBe(401);
    const basic = await scrape({ authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` });
    expect(basic.statusCode).toBe(401);
  });

  it('accepts a remote caller with the bearer token', async () => {
    const r = await scrape({ authorization: `Bearer ${TOKEN}` });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('capto_http_requests_total');
  });

  it('treats a loopback connection carrying X-Forwarded-For as proxied (remote)', async () => {
    const viaProxy = await request(`${s.url}/metrics`, { headers: { 'x-forwarded-for': REMOTE } });
    expect(viaProxy.status).toBe(401);
    const forwarded = await scrape({ forwarded: `for=${REMOTE}` }, '127.0.0.1');
    expect(forwarded.statusCode).toBe(401);
  });

  it('with trustProxy, a remote caller spoofing X-Forwarded-For: 127.0.0.1 is still refused', async () => {
    const config = loadConfig({ CAPTO_ENV: 'test', LOG_LEVEL: 'silent', CAPTO_TRUST_PROXY: 'on', CAPTO_TLS: 'off' });
    const { app } = await buildApp({
      config,
      db: s.db,
      logger: createLogger({ logLevel: 'silent' }),
      modules: [metricsModule({ config })],
    });
    try {
      const spoof = await app.inject({
        method: 'GET',
        url: '/metrics',
        remoteAddress: REMOTE,
        headers: { 'x-forwarded-for': '127.0.0.1' },
      });
      expect(spoof.statusCode).toBe(403);
      expect(spoof.json()).toMatchObject({
        error: { code: 'forbidden', message: expect.stringMatching(/CAPTO_METRICS_TOKEN/) },
      });
      // Positive case on the same app: a direct loopback scrape works without a token.
      const local = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' });
      expect(local.statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
