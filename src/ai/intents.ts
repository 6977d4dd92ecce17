// Intent labels on inbound texts (docs/ARCHITECTURE.md §23), by a job — never inside the
// Twilio webhook, which must answer fast and must not depend on a model. The model sees
// only the one inbound text, fenced (docs/SECURITY.md "AI assistance"), and answers one
// of seven labels. A label is only a label: nothing reads it to change consent — "not
// interested" or "wrong number" never opt a contact out; only STOP does (src/messaging).
import type { Tx } from '../db/index.ts';
import { isAppError } from '../shared/errors.ts';
import { completeCall, prepareCall, type AssistDeps, type RunTx } from './assist.ts';
import { MAX_TOKENS } from './features.ts';
import { intentPrompt, parseIntent, type Intent } from './prompt.ts';

export type IntentOutcome = Intent | 'skipped';

/** Why a message is not labelled (no provider, AI off, budget used up, already labelled …) is logged, not retried. */
const SKIP_CODES = new Set(['ai_not_configured', 'ai_disabled', 'ai_budget_exhausted', 'not_found']);

export async function classifyInboundMessage(
  deps: AssistDeps,
  ids: { business_id: string; message_id: string },
): Promise<IntentOutcome> {
  // No user is present: the job re-reads the one message as capto_service, by its ids.
  const asService: RunTx = (fn) => deps.db.asService('ai.intent', fn);
  const found = await asService(async (tx: Tx) => {
    const r = await tx.query<{ body: string; labelled: boolean }>(
      `SELECT m.body, EXISTS (SELECT 1 FROM app.message_intents i WHERE i.business_id = m.business_id AND i.message_id = m.id) AS labelled
         FROM app.messages m
        WHERE m.business_id = $1 AND m.id = $2 AND m.direction = 'inbound'`,
      [ids.business_id, ids.message_id],
    );
    return r.rows[0];
  });
  if (!found || found.labelled || !found.body.trim()) return 'skipped';
  let answer: string;
  let model: string;
  try {
    const prepared = await prepareCall(
      deps,
      asService,
      { businessId: ids.business_id, userId: null },
      'intent',
      MAX_TOKENS.intent,
      async () => ({ messages: intentPrompt(found.body), context: null }),
    );
    const out = await completeCall(deps, prepared);
    answer = out.text;
    model = out.model;
  } catch (e) {
    if (isAppError(e) && SKIP_CODES.has(e.code)) return 'skipped';
    throw e; // provider trouble: the job is retried
  }
  const intent = parseIntent(answer);
  await asService((tx) =>
    tx.query(
      `INSERT INTO app.message_intents (business_id, message_id, intent, model) VALUES ($1, $2, $3, $4)
       ON CONFLICT (business_id, message_id) DO NOTHING`,
      [ids.business_id, ids.message_id, intent, model],
    ),
  );
  return intent;
}
