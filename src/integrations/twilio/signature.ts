// Twilio webhook authentication (https://www.twilio.com/docs/usage/security#validating-requests):
// X-Twilio-Signature = base64(HMAC-SHA1(auth token, URL + every POST parameter, sorted
// by name, as name + value)). Cross-checked against twilio.validateRequest in tests.
//
// The URL is the one WE gave Twilio — the configured public URL plus the route path —
// never rebuilt from the Host header or X-Forwarded-* (an attacker controls those, and
// a URL they choose must not be what the signature is checked against).
import { createHmac, timingSafeEqual } from 'node:crypto';

export type FormParams = Record<string, string | string[]>;

export function twilioSignature(authToken: string, url: string, params: FormParams): string {
  let data = url;
  for (const key of Object.keys(params).sort()) {
    const value = params[key]!;
    // Repeated parameters: Twilio's libraries sign each distinct value, sorted.
    const values = Array.isArray(value) ? [...new Set(value)].sort() : [value];
    for (const v of values) data += key + v;
  }
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

/** Twilio may sign with or without the default port; accept exactly those two spellings. */
function urlVariants(url: string): string[] {
  const m = /^(https?):\/\/([^/?#:]+)(?::(\d+))?(.*)$/i.exec(url);
  if (!m) return [url];
  const [, scheme, host, port, rest] = m as unknown as [string, string, string, string | undefined, string];
  const defaultPort = scheme.toLowerCase() === 'https' ? '443' : '80';
  if (port === undefined) return [url, `${scheme}://${host}:${defaultPort}${rest}`];
  if (port === defaultPort) return [url, `${scheme}://${host}${rest}`];
  return [url];
}

/**
 * True when `header` is a valid signature of (url, params) under `authToken`. The
 * comparison is constant-time over equal-length buffers: a length mismatch is
 * rejected before comparing, which reveals nothing (every valid signature is 28 chars).
 */
export function isValidTwilioSignature(
  authToken: string,
  header: string | undefined,
  url: string,
  params: FormParams,
): boolean {
  if (typeof header !== 'string' || header.length === 0 || header.length > 128) return false;
  const given = Buffer.from(header, 'utf8');
  let ok = false;
  for (const candidate of urlVariants(url)) {
    const expected = Buffer.from(twilioSignature(authToken, candidate, params), 'utf8');
    // Evaluate every variant (no early exit) so timing does not say which one matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}

/** The webhook URLs Capto gives Twilio for one configuration. */
export function twilioWebhookUrls(publicUrl: string, configId: string): { sms: string; status: string } {
  const base = `${publicUrl.replace(/\/+$/, '')}/webhooks/twilio/${configId}`;
  return { sms: `${base}/sms`, status: `${base}/status` };
}
