// Security headers (docs/ARCHITECTURE.md §20, "CSP"): helmet's choices, computed once at start.
// @fastify/helmet rebuilds the helmet middleware — and with it the Content-Security-Policy
// string — on every request; our policy has no per-request part (no nonces), so the
// headers are captured once from helmet itself and copied onto every reply.
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/** The policy every response carries: the web app is served from this origin only. */
export const HELMET_OPTIONS: Readonly<HelmetOptions> = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'"],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      upgradeInsecureRequests: [],
    },
  },
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginEmbedderPolicy: false,
};

/**
 * Runs helmet's middleware once against a recording response and returns the headers it
 * set (lower-case names). Throws for a CSP directive computed per request (a nonce) or a
 * middleware that does not finish at once, so such an option cannot be silently frozen.
 */
export function staticSecurityHeaders(options: HelmetOptions = HELMET_OPTIONS): Record<string, string> {
  const csp = options.contentSecurityPolicy;
  const directives = typeof csp === 'object' ? Object.values(csp.directives ?? {}) : [];
  if (directives.some((d) => typeof d === 'function' || (Array.isArray(d) && d.some((v) => typeof v === 'function'))))
    throw new Error('a CSP directive is computed per request (a nonce?): the headers are not static');
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
      return recorder;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let finished = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error instanceof Error ? error : new Error(String(error));
    finished = true;
  });
  if (!finished) throw new Error('helmet did not finish synchronously: its headers are not static');
  return Object.freeze(headers) as Record<string, string>;
}
