// A local OpenAI-compatible API (docs/ARCHITECTURE.md §4: real protocols on loopback): the same paths,
// bearer-key check, JSON bodies, error bodies and server-sent-event stream as
// api.openai.com/v1, so the AI features are tested through the official `openai` SDK
// and not against a mock object. Usable in development too:
// `OPENAI_BASE_URL=<fake.url>` (provider `openai`) or a business's `base_url`
// (provider `openai_compatible`, with CAPTO_ALLOW_PRIVATE_HOSTS=on for loopback).
//
// What a completion says is chosen by the model name:
//   - `echo`   — the whole prompt back: every message as `[role]\n<content>`, joined by
//                blank lines. The leak tests use it to see exactly what a provider was shown.
//   - anything else — a fixed, friendly reply (`cannedReply`), or what `respondWith` says.
// Failures are injected with `failNext` (401, 429, 500, or a timeout: no answer at all).
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeChatMessage {
  role: string;
  content: string;
}

export interface FakeChatRequest {
  model: string;
  messages: FakeChatMessage[];
  stream: boolean;
  max_tokens?: number;
  /** The bearer key the request carried (tests check which key reached the provider). */
  apiKey: string | undefined;
}

export type FakeFailure = 401 | 429 | 500 | 'timeout';

export interface OpenAiFake {
  /** Base URL including `/v1`, e.g. http://127.0.0.1:41234/v1 — what the SDK calls `baseURL`. */
  url: string;
  /** Keys the fake accepts; a request with any other key gets 401 invalid_api_key. */
  readonly keys: Set<string>;
  /** Models listed by GET /models (any model name is served). */
  readonly models: string[];
  /** Every chat completion request received, in order (including refused ones). */
  readonly chats: FakeChatRequest[];
  /** Every request: method, path and whether the key was accepted. */
  readonly requests: Array<{ method: string; path: string; authorized: boolean }>;
  /** Make a fresh key the fake accepts. */
  addKey(): string;
  /** The next `count` requests (any path) fail this way. */
  failNext(failure: FakeFailure, count?: number): void;
  /** Override the reply of non-echo models (per request); undefined → cannedReply. */
  respondWith(fn: ((req: FakeChatRequest) => string) | undefined): void;
  /** Delay before the first byte of every answer (ms), to simulate a slow model. */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

export const cannedReply = 'Thanks for reaching out! I can help with that. When is a good time for a quick call?';

/** The text an `echo` completion returns for these messages. */
export function echoOf(messages: FakeChatMessage[]): string {
  return messages.map((m) => `[${m.role}]\n${m.content}`).join('\n\n');
}

/** Rough token count (about four characters per token), like the estimate the app uses. */
export const fakeTokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

function contentOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    return value
      .map((part) =>
        part && typeof part === 'object' && 'text' in part ? String((part as { text: unknown }).text) : '',
      )
      .join('');
  }
  return '';
}

/** Split a reply into stream pieces of a few characters, as models stream tokens. */
function pieces(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += 12) out.push(text.slice(i, i + 12));
  return out;
}

const errorBody = (message: string, type: string, code: string | null) =>
  JSON.stringify({ error: { message, type, param: null, code } });

export async function startOpenAiFake(options: { keys?: string[]; models?: string[] } = {}): Promise<OpenAiFake> {
  const keys = new Set(options.keys ?? []);
  const models = options.models ?? ['echo', 'gpt-4o-mini', 'gpt-4o'];
  const chats: FakeChatRequest[] = [];
  const requests: OpenAiFake['requests'] = [];
  const failures: FakeFailure[] = [];
  const hanging = new Set<http.ServerResponse>();
  let responder: ((req: FakeChatRequest) => string) | undefined;
  let latency = 0;

  const sendJson = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-request-id': `req_${randomBytes(8).toString('hex')}`,
      ...headers,
    });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://fake');
        const auth = req.headers.authorization ?? '';
        const apiKey = auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
        const authorized = apiKey !== undefined && keys.has(apiKey);
        requests.push({ method: req.method ?? 'GET', path: url.pathname, authorized });

        let body: Record<string, unknown> = {};
        if (chunks.length > 0) {
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            return sendJson(
              res,
              400,
              errorBody('We could not parse the JSON body of your request.', 'invalid_request_error', null),
            );
          }
        }
        const isChat = req.method === 'POST' && url.pathname === '/v1/chat/completions';
        if (isChat) {
          chats.push({
            model: String(body.model ?? ''),
            messages: (Array.isArray(body.messages) ? body.messages : []).map(
              (m: { role?: unknown; content?: unknown }) => ({
                role: String(m.role ?? ''),
                content: contentOf(m.content),
              }),
            ),
            stream: body.stream === true,
            max_tokens: typeof body.max_tokens === 'number' ? body.max_tokens : undefined,
            apiKey,
          });
        }

        if (latency > 0) await new Promise((r) => setTimeout(r, latency));
        const failure = failures.shift();
        if (failure === 'timeout') {
          hanging.add(res); // never answered; closed with the fake
          return;
        }
        if (failure === 429) {
          return sendJson(
            res,
            429,
            errorBody('Rate limit reached for requests. Please try again in 20s.', 'requests', 'rate_limit_exceeded'),
            { 'retry-after': '20' },
          );
        }
        if (failure === 500) {
          return sendJson(
            res,
            500,
            errorBody('The server had an error while processing your request.', 'server_error', null),
          );
        }
        if (!authorized || failure === 401) {
          return sendJson(
            res,
            401,
            errorBody(
              'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
              'invalid_request_error',
              'invalid_api_key',
            ),
          );
        }

        if (req.method === 'GET' && url.pathname === '/v1/models') {
          return sendJson(
            res,
            200,
            JSON.stringify({
              object: 'list',
              data: models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'capto-fake' })),
            }),
          );
        }
        if (!isChat) {
          return sendJson(
            res,
            404,
            errorBody(`Invalid URL (${req.method} ${url.pathname})`, 'invalid_request_error', null),
          );
        }

        const chat = chats[chats.length - 1]!;
        if (!chat.model || chat.messages.length === 0) {
          return sendJson(res, 400, errorBody("'messages' and 'model' are required", 'invalid_request_error', null));
        }
        const text = chat.model === 'echo' ? echoOf(chat.messages) : (responder?.(chat) ?? cannedReply);
        const promptTokens = fakeTokens(chat.messages.map((m) => m.content).join('\n'));
        const completionTokens = fakeTokens(text);
        const usage = {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        };
        const id = `chatcmpl-${randomBytes(12).toString('base64url')}`;
        const created = Math.floor(Date.now() / 1000);

        if (!chat.stream) {
          return sendJson(
            res,
            200,
            JSON.stringify({
              id,
              object: 'chat.completion',
              created,
              model: chat.model,
              choices: [
                {
                  index: 0,
                  message: { role: 'assistant', content: text, refusal: null, annotations: [] },
                  logprobs: null,
                  finish_reason: 'stop',
                },
              ],
              usage,
              system_fingerprint: null,
            }),
          );
        }

        // Server-sent events exactly as the real API: `data: <chunk>\n\n`, a role chunk,
        // content chunks, a finish chunk, a usage chunk when asked for, then [DONE].
        const includeUsage =
          typeof body.stream_options === 'object' &&
          body.stream_options !== null &&
          (body.stream_options as { include_usage?: unknown }).include_usage === true;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
          'x-request-id': `req_${randomBytes(8).toString('hex')}`,
        });
        const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
          `data: ${JSON.stringify({
            id,
            object: 'chat.completion.chunk',
            created,
            model: chat.model,
            system_fingerprint: null,
            choices,
            ...(includeUsage ? { usage: null } : {}),
            ...extra,
          })}\n\n`;
        res.write(
          chunk([
            { index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null },
          ]),
        );
        for (const piece of pieces(text)) {
          res.write(chunk([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }]));
        }
        res.write(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]));
        if (includeUsage) res.write(chunk([], { usage }));
        res.end('data: [DONE]\n\n');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    keys,
    models,
    chats,
    requests,
    addKey() {
      const key = `sk-fake-${randomBytes(18).toString('base64url')}`;
      keys.add(key);
      return key;
    },
    failNext(failure, count = 1) {
      for (let i = 0; i < count; i++) failures.push(failure);
    },
    respondWith(fn) {
      responder = fn;
    },
    setLatency(ms) {
      latency = ms;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
