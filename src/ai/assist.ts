// One AI call, end to end (docs/ARCHITECTURE.md §23). Like sending an SMS, it is a few
// short transactions around one network call, so no database lock is held while a
// model thinks (on the embedded engine an open transaction would stall every request):
//   1. as the caller (RLS): the provider and switch are checked, the context is
//      assembled and the prompt built (context.ts, prompt.ts);
//   2. as capto_service: the call is admitted against the rate limit and the budget
//      (calls.ts) and the key is decrypted (src/vault);
//   3. the provider is called (provider-client.ts); the output is checked for phone
//      numbers and emails that are not the contact's or the business's (output-check.ts);
//   4. as capto_service: the call's usage, latency and outcome are recorded.
import type { Database, Tx } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import type { Vault } from '../vault/secrets.ts';
import { admitCall, finishCall, type Admission, type AiFeature } from './calls.ts';
import type { AiContext } from './context.ts';
import { flagUnknownContacts, plainText, type OutputFlag } from './output-check.ts';
import {
  estimateTokens,
  providerFailure,
  type AiClient,
  type ChatMessage,
  type ProviderTarget,
} from './provider-client.ts';
import { loadProviderTarget } from './providers.ts';

export interface AssistDeps {
  db: Database;
  vault: Vault;
  client: AiClient;
  /** CAPTO_AI_RATE_PER_MINUTE: calls per user per minute. */
  perMinute: number;
}

export type RunTx = <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;

export interface PreparedCall {
  target: ProviderTarget;
  admission: Admission;
  messages: ChatMessage[];
  context: AiContext | null;
  maxTokens: number;
}

export interface AssistResult {
  text: string;
  flags: OutputFlag[];
  model: string;
  tokens_in: number;
  tokens_out: number;
}

/** Refuse early, as the caller, when the business has no provider or switched AI off. */
export async function assertAiAvailable(tx: Tx, businessId: string): Promise<string> {
  const r = await tx.query<{ model: string | null; enabled: boolean }>(
    `SELECT (SELECT p.model FROM app.ai_providers p WHERE p.business_id = $1) AS model,
            (SELECT b.ai_enabled FROM app.businesses b WHERE b.id = $1) AS enabled`,
    [businessId],
  );
  const row = r.rows[0]!;
  if (!row.enabled) {
    throw new AppError('ai_disabled', 'AI assistance is turned off for this business (Settings → Integrations)');
  }
  if (!row.model) {
    throw new AppError(
      'ai_not_configured',
      'this business has no AI provider yet; an owner or admin can add one in Settings → Integrations',
    );
  }
  return row.model;
}

/** Steps 1 and 2. `build` runs inside `runAsCaller` (the caller's RLS transaction). */
export async function prepareCall(
  deps: AssistDeps,
  runAsCaller: RunTx,
  who: { businessId: string; userId: string | null },
  feature: AiFeature,
  maxTokens: number,
  build: (tx: Tx) => Promise<{ messages: ChatMessage[]; context: AiContext | null }>,
): Promise<PreparedCall> {
  const built = await runAsCaller(async (tx) => {
    await assertAiAvailable(tx, who.businessId);
    return build(tx);
  });
  const reserve = estimateTokens(built.messages.map((m) => m.content).join('\n')) + maxTokens;
  const { target, admission } = await deps.db.asService(`ai.${feature}.admit`, async (tx) => {
    const target = await loadProviderTarget(tx, deps.vault, who.businessId);
    if (!target) throw new AppError('ai_not_configured', 'this business has no AI provider yet');
    const admission = await admitCall(tx, {
      businessId: who.businessId,
      userId: who.userId,
      feature,
      model: target.model,
      reserveTokens: reserve,
      perMinute: deps.perMinute,
    });
    return { target, admission };
  });
  return { target, admission, messages: built.messages, context: built.context, maxTokens };
}

async function record(deps: AssistDeps, admission: Admission, result: Parameters<typeof finishCall>[2]): Promise<void> {
  await deps.db.asService('ai.record', (tx) => finishCall(tx, admission, result));
}

function checked(text: string, prepared: PreparedCall): { text: string; flags: OutputFlag[] } {
  const clean = plainText(text);
  return { text: clean, flags: prepared.context ? flagUnknownContacts(clean, prepared.context) : [] };
}

/** Steps 3 and 4 without streaming. */
export async function completeCall(deps: AssistDeps, prepared: PreparedCall): Promise<AssistResult> {
  try {
    const out = await deps.client.complete(prepared.target, prepared.messages, prepared.maxTokens);
    await record(deps, prepared.admission, { outcome: 'ok', tokensIn: out.tokensIn, tokensOut: out.tokensOut });
    const { text, flags } = checked(out.text, prepared);
    return { text, flags, model: prepared.target.model, tokens_in: out.tokensIn, tokens_out: out.tokensOut };
  } catch (e) {
    const { error, outcome } = providerFailure(e);
    await record(deps, prepared.admission, { outcome });
    throw error;
  }
}

export interface AssistStream {
  pieces: AsyncIterable<string>;
  /** After the pieces ended: the checked text, flags and usage (the call is recorded by then). */
  finish(): Promise<AssistResult>;
  /** The client went away: end the provider call and record it as aborted. */
  abort(): Promise<void>;
}

/** Steps 3 and 4, streaming. Provider refusals throw here, before anything was streamed. */
export async function streamCall(deps: AssistDeps, prepared: PreparedCall): Promise<AssistStream> {
  let stream;
  try {
    stream = await deps.client.stream(prepared.target, prepared.messages, prepared.maxTokens);
  } catch (e) {
    const { error, outcome } = providerFailure(e);
    await record(deps, prepared.admission, { outcome });
    throw error;
  }
  let recorded = false;
  return {
    pieces: stream.pieces,
    async finish() {
      try {
        const out = await stream.done();
        recorded = true;
        await record(deps, prepared.admission, { outcome: 'ok', tokensIn: out.tokensIn, tokensOut: out.tokensOut });
        const { text, flags } = checked(out.text, prepared);
        return { text, flags, model: prepared.target.model, tokens_in: out.tokensIn, tokens_out: out.tokensOut };
      } catch (e) {
        const { error, outcome } = providerFailure(e);
        if (!recorded) {
          recorded = true;
          await record(deps, prepared.admission, { outcome });
        }
        throw error;
      }
    },
    async abort() {
      stream.abort();
      if (!recorded) {
        recorded = true;
        // Without the provider's usage, the reservation is what the call may have cost.
        await record(deps, prepared.admission, {
          outcome: 'aborted',
          tokensIn: estimateTokens(prepared.messages.map((m) => m.content).join('\n')),
          tokensOut: prepared.maxTokens,
        });
      }
    },
  };
}
