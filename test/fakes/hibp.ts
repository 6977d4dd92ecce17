// A local Have I Been Pwned range server (k-anonymity API): GET /range/<5 hex> answers
// "SUFFIX:COUNT" lines for the breached passwords it knows, plus count-0 padding lines
// when the request carries `Add-Padding: true`, as the real service does. It records
// every request so tests can assert what left the server, and can simulate outages.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRangeRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
}

export interface FakeHibp {
  url: string;
  requests: RecordedRangeRequest[];
  /** Mark a password as breached (seen `count` times). */
  addBreached(password: string, count?: number): void;
  /** 'up' answers; 'error' returns 503; 'hang' never answers (the client's timeout fires). */
  setMode(mode: 'up' | 'error' | 'hang'): void;
  close(): Promise<void>;
}

export async function startFakeHibp(): Promise<FakeHibp> {
  const breached = new Map<string, number>(); // full SHA-1 hex (upper) → count
  const requests: RecordedRangeRequest[] = [];
  let mode: 'up' | 'error' | 'hang' = 'up';
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? '', headers: req.headers });
    if (mode === 'hang') return; // leave the socket open: the client must give up on its own
    const m = /^\/range\/([0-9A-Fa-f]{5})$/.exec(req.url ?? '');
    if (mode === 'error' || !m) {
      res.writeHead(mode === 'error' ? 503 : 400).end();
      return;
    }
    const prefix = m[1]!.toUpperCase();
    const lines: string[] = [];
    for (const [sha, count] of breached) if (sha.startsWith(prefix)) lines.push(`${sha.slice(5)}:${count}`);
    if (String(req.headers['add-padding']).toLowerCase() === 'true') {
      for (let i = 0; i < 800 + Math.floor(Math.random() * 200); i++)
        lines.push(`${randomBytes(18).toString('hex').slice(0, 35).toUpperCase()}:0`);
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/range/`,
    requests,
    addBreached(password, count = 42) {
      breached.set(createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase(), count);
    },
    setMode(m) {
      mode = m;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let shared: Promise<FakeHibp> | undefined;

/** One fake per test process, started on first use; startTestServer points HIBP_RANGE_URL at it. */
export function sharedFakeHibp(): Promise<FakeHibp> {
  shared ??= startFakeHibp().then((f) => {
    // Passwords every suite may rely on being "breached".
    for (const p of ['password123', 'Password1!', 'qwerty123456', 'iloveyou2', 'correcthorse1'])
      f.addBreached(p, 1_000);
    return f;
  });
  return shared;
}
