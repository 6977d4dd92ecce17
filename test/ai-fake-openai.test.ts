// The OpenAI fake speaks the real protocol: the official `openai` SDK lists models,
// completes chats (plain and streamed, with usage), and sees the same errors it would
// see from api.openai.com — bad key 401, 429, 500, and a timeout. No database.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cannedReply, echoOf, startOpenAiFake, type OpenAiFake } from './fakes/openai.ts';

let fake: OpenAiFake;
let key: string;
const client = (apiKey = key, timeout = 5_000) => new OpenAI({ apiKey, baseURL: fake.url, maxRetries: 0, timeout });

beforeAll(async () => {
  fake = await startOpenAiFake();
  key = fake.addKey();
});
afterAll(async () => {
  await fake?.close();
});

describe('the OpenAI-compatible fake, through the official SDK', () => {
  it('lists models with a good key and refuses a bad one with 401 invalid_api_key', async () => {
    const page = await client().models.list();
    expect(page.data.map((m) => m.id)).toContain('echo');
    const err = await client('sk-wrong')
      .models.list()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(401);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('invalid_api_key');
    expect(fake.requests.at(-1)).toMatchObject({ path: '/v1/models', authorized: false });
  });

  it('completes without streaming: canned reply for ordinary models, the whole prompt for echo', async () => {
    const messages = [
      { role: 'system' as const, content: 'You are helpful.' },
      { role: 'user' as const, content: 'Can I still lock at 6.1?' },
    ];
    const canned = await client().chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(canned.choices[0]!.message.content).toBe(cannedReply);
    expect(canned.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(canned.usage!.total_tokens).toBe(canned.usage!.prompt_tokens + canned.usage!.completion_tokens);
    const echo = await client().chat.completions.create({ model: 'echo', messages });
    expect(echo.choices[0]!.message.content).toBe(echoOf(messages));
    expect(echo.choices[0]!.message.content).toContain('Can I still lock at 6.1?');
    expect(fake.chats.at(-1)).toMatchObject({ model: 'echo', stream: false, apiKey: key });
  });

  it('streams server-sent events chunk by chunk, with the usage chunk when asked for', async () => {
    const messages = [{ role: 'user' as const, content: 'x'.repeat(100) }];
    const stream = await client().chat.completions.create({
      model: 'echo',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null = null;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(echoOf(messages));
    expect(chunks).toBeGreaterThan(5);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('injects 429 and 500 as the SDK knows them, then serves again', async () => {
    fake.failNext(429);
    const limited = await client()
      .models.list()
      .catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    fake.failNext(500);
    const broken = await client()
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(OpenAI.InternalServerError);
    expect((await client().models.list()).data.length).toBeGreaterThan(0);
  });

  it('a timeout is a request that never answers: the SDK gives up with APIConnectionTimeoutError', async () => {
    fake.failNext('timeout');
    const started = Date.now();
    const err = await client(key, 300)
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
