// A tiny HTTPS client for tests: accepts the server's self-signed certificate and
// returns status, headers and the parsed body.
import https from 'node:https';
import http from 'node:http';

export interface HttpResponse<T = unknown> {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: T;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Raw body (string or Buffer), sent as is. */
  raw?: string | Buffer;
  token?: string;
}

export function request<T = any>(url: string, options: RequestOptions = {}): Promise<HttpResponse<T>> {
  const u = new URL(url);
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  let payload: string | Buffer | undefined = options.raw;
  if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      u,
      {
        method: options.method ?? (payload !== undefined ? 'POST' : 'GET'),
        headers,
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = undefined;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as T });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
