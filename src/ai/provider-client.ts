// The one caller of a business's model provider (docs/ARCHITECTURE.md §23), through
// the official `openai` SDK. Every provider failure becomes an AppError with a stable
// code and a 4xx/502/504 status — never a 500, and never the provider's own message
// (it can quote the key: "Incorrect API key provided: sk-…").
//
// Where a key may go (docs/SECURITY.md "AI assistance"): provider `openai` talks to the operator's
// OPENAI_BASE_URL; `openai_compatible` to the base URL the admin entered with the key.
// That host is checked when saved, and again at every connection by the socket's DNS
// lookup (src/shared/outbound-host.ts), so a DNS answer that later turns private
// (rebinding) does not reach the internal network. Redirects are not followed.
import type OpenAI from 'openai';
import type { Agent } from 'undici';
import { AppError } from '../shared/errors.ts';
import { outboundLookup } from '../shared/outbound-host.ts';

export type ProviderKind = 'openai' | 'openai_compatible';

export interface ProviderTarget {
  provider: ProviderKind;
  /** openai_compatible only; the openai provider uses the operator's base. */
  baseUrl: string | null;
  apiKey: string;
  model: string;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Completion {
  text: string;
  tokensIn: number;
  tokensOut: number;
}

export interface CompletionStream {
  /** Text pieces as the provider streams them. */
  pieces: AsyncIterable<string>;
  /** Resolves after the stream ended, with the provider's usage (estimated when it sent none). */
  done(): Promise<Completion>;
  abort(): void;
}

export type CallOutcome =
  'ok' | 'provider_error' | 'provider_auth_failed' | 'provider_rate_limited' | 'timeout' | 'unreachable' | 'aborted';

export interface AiClient {
  /** One cheap call (the model list) that proves the key works at that base. */
  verify(target: ProviderTarget): Promise<void>;
  complete(target: ProviderTarget, messages: ChatMessage[], maxTokens: number): Promise<Completion>;
  /** Resolves once the provider answered with a stream (so its refusals are thrown here, before any byte is sent on). */
  stream(target: ProviderTarget, messages: ChatMessage[], maxTokens: number): Promise<CompletionStream>;
}

export interface AiClientOptions {
  /** OPENAI_BASE_URL: the base of provider `openai` (operator-level; tests point it at a fake). */
  openaiBaseUrl: string;
  timeoutMs: number;
  /** CAPTO_ALLOW_PRIVATE_HOSTS: lets openai_compatible reach loopback/private hosts. */
  allowPrivateHosts: boolean;
}

/**
 * The SDK and undici (its fetch, and the Agent that checks tenant hosts), loaded at the
 * first call: a server whose businesses use no AI does not keep them in memory (~9 MB and
 * ~5 MB; docs/ARCHITECTURE.md §5).
 */
let sdkModule: { default: typeof OpenAI } | undefined;
let undiciModule: typeof import('undici') | undefined;
const loadSdk = async (): Promise<typeof OpenAI> => (sdkModule ??= await import('openai')).default;
const loadUndici = async (): Promise<typeof import('undici')> => (undiciModule ??= await import('undici'));

/** Rough token estimate (about four characters per token) for reservations and providers that send no usage. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

/** The AppError for a provider failure, and the outcome recorded for the call. */
export function providerFailure(e: unknown): { error: AppError; outcome: CallOutcome } {
  if (e instanceof AppError) return { error: e, outcome: outcomes.get(e) ?? 'provider_error' };
  const mapped = mapFailure(e);
  outcomes.set(mapped.error, mapped.outcome);
  return mapped;
}

/** The outcome of each mapped error, so a rethrown AppError is recorded as what it was. */
const outcomes = new WeakMap<AppError, CallOutcome>();

function mapFailure(e: unknown): { error: AppError; outcome: CallOutcome } {
  // Without the SDK loaded, no error can be one of its own.
  const OpenAI = sdkModule?.default;
  if (!OpenAI) return unreadable();
  if (e instanceof OpenAI.APIConnectionTimeoutError) {
    return {
      error: new AppError('ai_provider_timeout', 'the AI provider did not answer in time; try again'),
      outcome: 'timeout',
    };
  }
  if (e instanceof OpenAI.APIUserAbortError) {
    return { error: new AppError('ai_provider_error', 'the AI request was cancelled'), outcome: 'aborted' };
  }
  if (e instanceof OpenAI.APIConnectionError) {
    return {
      error: new AppError('ai_provider_unreachable', 'the AI provider could not be reached; check its address'),
      outcome: 'unreachable',
    };
  }
  if (e instanceof OpenAI.AuthenticationError || e instanceof OpenAI.PermissionDeniedError) {
    return {
      error: new AppError(
        'ai_provider_rejected_key',
        'the AI provider refused the stored key; an owner or admin should enter it again in Settings',
      ),
      outcome: 'provider_auth_failed',
    };
  }
  if (e instanceof OpenAI.RateLimitError) {
    const retry = Number(e.headers?.get('retry-after'));
    return {
      error: new AppError('ai_provider_rate_limited', 'the AI provider is rate-limiting this account; try again soon', {
        details: { retry_after: Number.isFinite(retry) && retry > 0 ? Math.ceil(retry) : 30 },
      }),
      outcome: 'provider_rate_limited',
    };
  }
  if (e instanceof OpenAI.NotFoundError) {
    return {
      error: new AppError('ai_provider_error', 'the AI provider does not know this model or address'),
      outcome: 'provider_error',
    };
  }
  if (e instanceof OpenAI.APIError) {
    const status = typeof e.status === 'number' ? ` (HTTP ${e.status})` : '';
    return {
      error: new AppError('ai_provider_error', `the AI provider answered with an error${status}; try again`),
      outcome: 'provider_error',
    };
  }
  return unreadable();
}

const unreadable = (): { error: AppError; outcome: CallOutcome } => ({
  error: new AppError('ai_provider_error', 'the AI provider sent an answer Capto could not read'),
  outcome: 'provider_error',
});

export function createAiClient(options: AiClientOptions): AiClient {
  // Connections to tenant-entered hosts resolve through the outbound-host rule.
  let tenantDispatcher: Agent | undefined;

  const sdk = async (target: ProviderTarget): Promise<OpenAI> => {
    const tenant = target.provider === 'openai_compatible';
    const baseURL = tenant ? target.baseUrl! : options.openaiBaseUrl;
    const OpenAI = await loadSdk();
    const undici = await loadUndici();
    if (tenant)
      tenantDispatcher ??= new undici.Agent({
        connect: { lookup: outboundLookup({ allowPrivate: options.allowPrivateHosts }) },
      });
    return new OpenAI({
      apiKey: target.apiKey,
      baseURL,
      timeout: options.timeoutMs,
      // No silent retries: every attempt spends the business's tokens and must be recorded.
      maxRetries: 0,
      fetch: undici.fetch as unknown as typeof globalThis.fetch,
      fetchOptions: {
        redirect: 'error',
        ...(tenant ? { dispatcher: tenantDispatcher } : {}),
      } as unknown as NonNullable<ConstructorParameters<typeof OpenAI>[0]>['fetchOptions'],
    });
  };

  const tokenLimit = (target: ProviderTarget, maxTokens: number) =>
    // OpenAI's newer models take max_completion_tokens; compatible servers (Ollama, vLLM, Azure) know max_tokens.
    target.provider === 'openai' ? { max_completion_tokens: maxTokens } : { max_tokens: maxTokens };

  return {
    async verify(target) {
      try {
        await (await sdk(target)).models.list();
      } catch (e) {
        const { error } = providerFailure(e);
        if (error.code === 'ai_provider_rejected_key') {
          throw new AppError('ai_key_invalid', 'the AI provider did not accept this API key');
        }
        throw error;
      }
    },

    async complete(target, messages, maxTokens) {
      try {
        const r = await (
          await sdk(target)
        ).chat.completions.create({
          model: target.model,
          messages,
          ...tokenLimit(target, maxTokens),
        });
        const text = r.choices[0]?.message?.content ?? '';
        return {
          text,
          tokensIn: r.usage?.prompt_tokens ?? estimateTokens(messages.map((m) => m.content).join('\n')),
          tokensOut: r.usage?.completion_tokens ?? estimateTokens(text),
        };
      } catch (e) {
        throw providerFailure(e).error;
      }
    },

    async stream(target, messages, maxTokens) {
      const controller = new AbortController();
      let stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>;
      try {
        stream = await (
          await sdk(target)
        ).chat.completions.create(
          {
            model: target.model,
            messages,
            stream: true,
            stream_options: { include_usage: true },
            ...tokenLimit(target, maxTokens),
          },
          { signal: controller.signal },
        );
      } catch (e) {
        throw providerFailure(e).error;
      }
      let text = '';
      let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
      let finished: (() => void) | undefined;
      let failed: ((e: unknown) => void) | undefined;
      const ended = new Promise<void>((resolve, reject) => {
        finished = resolve;
        failed = reject;
      });
      ended.catch(() => undefined);
      async function* pieces(): AsyncGenerator<string> {
        try {
          for await (const chunk of stream) {
            if (chunk.usage) usage = chunk.usage;
            const piece = chunk.choices[0]?.delta?.content;
            if (piece) {
              text += piece;
              yield piece;
            }
          }
          finished!();
        } catch (e) {
          const failure = providerFailure(e).error;
          failed!(failure);
          throw failure;
        } finally {
          // A consumer that stopped early (client went away) ends the provider call too.
          controller.abort();
          failed!(new AppError('ai_provider_error', 'the AI request was cancelled'));
        }
      }
      return {
        pieces: pieces(),
        async done() {
          await ended;
          return {
            text,
            tokensIn: usage?.prompt_tokens ?? estimateTokens(messages.map((m) => m.content).join('\n')),
            tokensOut: usage?.completion_tokens ?? estimateTokens(text),
          };
        },
        abort: () => controller.abort(),
      };
    },
  };
}
