// The AI features over assist.ts: a suggested reply for a conversation (streamed or
// not), a contact summary (stored, dated) — each assembled as the caller — and the
// draft of a reply for the review queue (drafts.ts).
import type { Tx } from '../db/index.ts';
import { AppError } from '../shared/errors.ts';
import {
  completeCall,
  prepareCall,
  streamCall,
  type AssistDeps,
  type AssistResult,
  type AssistStream,
  type RunTx,
} from './assist.ts';
import { contactSummaryContext, conversationContext } from './context.ts';
import type { OutputFlag } from './output-check.ts';
import { suggestReplyPrompt, summaryPrompt } from './prompt.ts';

export const MAX_TOKENS = { suggest: 300, summary: 350, intent: 8 } as const;

export interface Who {
  businessId: string;
  userId: string;
}

function prepareSuggestion(deps: AssistDeps, asCaller: RunTx, who: Who, conversationId: string) {
  return prepareCall(deps, asCaller, who, 'suggest_reply', MAX_TOKENS.suggest, async (tx) => {
    const { context } = await conversationContext(tx, who.businessId, who.userId, conversationId);
    return { messages: suggestReplyPrompt(context), context };
  });
}

export async function suggestReply(
  deps: AssistDeps,
  asCaller: RunTx,
  who: Who,
  conversationId: string,
): Promise<AssistResult> {
  return completeCall(deps, await prepareSuggestion(deps, asCaller, who, conversationId));
}

export async function suggestReplyStream(
  deps: AssistDeps,
  asCaller: RunTx,
  who: Who,
  conversationId: string,
): Promise<AssistStream> {
  return streamCall(deps, await prepareSuggestion(deps, asCaller, who, conversationId));
}

export interface SummaryView {
  id: string;
  contact_id: string;
  text: string;
  flags: OutputFlag[];
  model: string;
  created_by: string | null;
  created_at: string;
}

type SummaryRow = Omit<SummaryView, 'created_at' | 'text'> & { body: string; created_at: Date };
const summaryView = (r: SummaryRow): SummaryView => ({
  id: r.id,
  contact_id: r.contact_id,
  text: r.body,
  flags: r.flags,
  model: r.model,
  created_by: r.created_by,
  created_at: r.created_at.toISOString(),
});

/** Five lines on the contact, made now, stored with its date (the newest is shown on the contact page). */
export async function summariseContact(
  deps: AssistDeps,
  asCaller: RunTx,
  who: Who,
  contactId: string,
): Promise<SummaryView> {
  const prepared = await prepareCall(deps, asCaller, who, 'summary', MAX_TOKENS.summary, async (tx) => {
    const context = await contactSummaryContext(tx, who.businessId, who.userId, contactId);
    return { messages: summaryPrompt(context), context };
  });
  const out = await completeCall(deps, prepared);
  const text = out.text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, 5)
    .join('\n')
    .slice(0, 4000);
  if (!text) throw new AppError('ai_provider_error', 'the AI provider returned an empty summary; try again');
  return asCaller(async (tx) => {
    const r = await tx.query<SummaryRow>(
      `INSERT INTO app.ai_summaries (business_id, contact_id, body, flags, model, created_by)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6)
       RETURNING id, contact_id, body, flags, model, created_by, created_at`,
      [who.businessId, contactId, text, JSON.stringify(out.flags), out.model, who.userId],
    );
    return summaryView(r.rows[0]!);
  });
}

export async function latestSummary(tx: Tx, businessId: string, contactId: string): Promise<SummaryView | null> {
  const r = await tx.query<SummaryRow>(
    `SELECT id, contact_id, body, flags, model, created_by, created_at FROM app.ai_summaries
      WHERE business_id = $1 AND contact_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1`,
    [businessId, contactId],
  );
  return r.rows[0] ? summaryView(r.rows[0]) : null;
}
