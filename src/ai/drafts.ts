// The AI drafts review queue (docs/ARCHITECTURE.md §23). A draft is a model's reply to
// one conversation, waiting for a person: approving it (with or without edits) is that
// person pressing Send — the message is sent in her name through the messaging module —
// and discarding it ends it. Nothing here sends on its own.
//
// The automation step "draft a reply with AI" (docs/ARCHITECTURE.md §25) uses the same
// parts: `composeDraft` with the context assembled in the reviewing member's own RLS
// transaction (the call itself is the system's: no user, no per-user rate limit), then
// `insertDraft` (origin 'automation') in the scheduler's transaction that also moves the
// enrollment on, so a step stores its draft exactly once.
import type { Tx } from '../db/index.ts';
import type { MessagingDeps, SentMessage } from '../messaging/send.ts';
import { sendConversationMessage } from '../messaging/send.ts';
import { AppError, notFound } from '../shared/errors.ts';
import { completeCall, prepareCall, type AssistDeps, type RunTx } from './assist.ts';
import { conversationContext } from './context.ts';
import { MAX_TOKENS } from './features.ts';
import type { OutputFlag } from './output-check.ts';
import { suggestReplyPrompt } from './prompt.ts';

export type DraftStatus = 'pending' | 'sending' | 'approved' | 'discarded';

export interface DraftView {
  id: string;
  conversation_id: string;
  contact_id: string;
  contact_name: string;
  body: string;
  flags: OutputFlag[];
  origin: 'manual' | 'automation';
  status: DraftStatus;
  created_by: string | null;
  created_at: string;
  decided_by: string | null;
  decided_at: string | null;
  sent_message_id: string | null;
}

type DraftRow = Omit<DraftView, 'created_at' | 'decided_at'> & { created_at: Date; decided_at: Date | null };

const SELECT_DRAFT = `SELECT d.id, d.conversation_id, v.contact_id, btrim(c.first_name || ' ' || c.last_name) AS contact_name,
  d.body, d.flags, d.origin, d.status, d.created_by, d.created_at, d.decided_by, d.decided_at, d.sent_message_id
  FROM app.ai_drafts d
  JOIN app.conversations v ON v.business_id = d.business_id AND v.id = d.conversation_id
  JOIN app.contacts c ON c.business_id = v.business_id AND c.id = v.contact_id`;

const view = (r: DraftRow): DraftView => ({
  ...r,
  created_at: r.created_at.toISOString(),
  decided_at: r.decided_at ? r.decided_at.toISOString() : null,
});

async function readDraft(tx: Tx, businessId: string, id: string): Promise<DraftView> {
  const r = await tx.query<DraftRow>(`${SELECT_DRAFT} WHERE d.business_id = $1 AND d.id = $2`, [businessId, id]);
  if (!r.rows[0]) throw notFound('draft');
  return view(r.rows[0]);
}

export async function listDrafts(
  tx: Tx,
  businessId: string,
  query: { status: DraftStatus; limit: number },
): Promise<DraftView[]> {
  const r = await tx.query<DraftRow>(
    `${SELECT_DRAFT} WHERE d.business_id = $1 AND d.status = $2 ORDER BY d.created_at DESC, d.id DESC LIMIT $3`,
    [businessId, query.status, query.limit],
  );
  return r.rows.map(view);
}

/**
 * Ask the model for a reply to a conversation (checked; nothing stored). `asContext` runs
 * the context assembly: the caller's RLS transaction; `contextUserId` is whose name the
 * model writes in (the caller; for an automation, the reviewing member).
 */
export async function composeDraft(
  deps: AssistDeps,
  asContext: RunTx,
  who: { businessId: string; userId: string | null },
  conversationId: string,
  contextUserId: string | null = who.userId,
): Promise<{ body: string; flags: OutputFlag[] }> {
  const prepared = await prepareCall(deps, asContext, who, 'draft', MAX_TOKENS.suggest, async (tx) => {
    const { context } = await conversationContext(tx, who.businessId, contextUserId, conversationId);
    return { messages: suggestReplyPrompt(context), context };
  });
  const out = await completeCall(deps, prepared);
  const body = out.text.slice(0, 1600);
  if (!body) throw new AppError('ai_provider_error', 'the AI provider returned an empty draft; try again');
  return { body, flags: out.flags };
}

/** Queue a composed draft for review; returns its id. Members insert in their own name, the service as origin 'automation'. */
export async function insertDraft(
  tx: Tx,
  businessId: string,
  conversationId: string,
  draft: { body: string; flags: OutputFlag[] },
  createdBy: string | null,
  origin: 'manual' | 'automation',
): Promise<string> {
  const r = await tx.query<{ id: string }>(
    `INSERT INTO app.ai_drafts (business_id, conversation_id, body, flags, created_by${origin === 'automation' ? ', origin' : ''})
     VALUES ($1, $2, $3, $4::jsonb, $5${origin === 'automation' ? `, 'automation'` : ''}) RETURNING id`,
    [businessId, conversationId, draft.body, JSON.stringify(draft.flags), createdBy],
  );
  return r.rows[0]!.id;
}

/** Ask the model for a reply to a conversation and queue it for review (a person, in her request). */
export async function createDraft(
  deps: AssistDeps,
  asContext: RunTx,
  who: { businessId: string; userId: string | null },
  conversationId: string,
  origin: 'manual' | 'automation',
): Promise<DraftView> {
  const draft = await composeDraft(deps, asContext, who, conversationId);
  return asContext(async (tx) => {
    const id = await insertDraft(tx, who.businessId, conversationId, draft, who.userId, origin);
    return readDraft(tx, who.businessId, id);
  });
}

/** Why a draft cannot be decided: gone (404) or already decided (409). */
async function undecidable(tx: Tx, businessId: string, id: string): Promise<never> {
  const d = await readDraft(tx, businessId, id);
  throw new AppError('conflict', `this draft is already ${d.status === 'sending' ? 'being sent' : d.status}`);
}

export async function discardDraft(tx: Tx, businessId: string, userId: string, id: string): Promise<DraftView> {
  const r = await tx.query(
    `UPDATE app.ai_drafts SET status = 'discarded', decided_by = $3, decided_at = now()
      WHERE business_id = $1 AND id = $2 AND status = 'pending'`,
    [businessId, id, userId],
  );
  if (r.rowCount === 0) await undecidable(tx, businessId, id);
  return readDraft(tx, businessId, id);
}

/**
 * A person approves a draft (optionally edited): it is claimed ('sending') so a double
 * click or a colleague cannot send it twice, sent in her name, then marked approved
 * with the message. If sending fails, the draft goes back to the queue.
 */
export async function approveDraft(
  deps: { assist: AssistDeps; messaging: MessagingDeps },
  asCaller: RunTx,
  who: { businessId: string; userId: string },
  id: string,
  editedBody: string | undefined,
): Promise<{ draft: DraftView; message: SentMessage }> {
  const claimed = await asCaller(async (tx) => {
    const r = await tx.query<{ conversation_id: string; body: string }>(
      `UPDATE app.ai_drafts SET status = 'sending', body = coalesce($4, body), decided_by = $3, decided_at = now()
        WHERE business_id = $1 AND id = $2 AND status = 'pending' RETURNING conversation_id, body`,
      [who.businessId, id, who.userId, editedBody ?? null],
    );
    if (!r.rows[0]) return undecidable(tx, who.businessId, id);
    return r.rows[0];
  });
  let message: SentMessage;
  try {
    message = await sendConversationMessage(
      deps.messaging,
      asCaller,
      { userId: who.userId },
      who.businessId,
      claimed.conversation_id,
      claimed.body,
    );
  } catch (e) {
    await deps.assist.db.asService('ai.drafts.release', (tx) =>
      tx.query(
        `UPDATE app.ai_drafts SET status = 'pending', decided_by = NULL, decided_at = NULL
          WHERE business_id = $1 AND id = $2 AND status = 'sending'`,
        [who.businessId, id],
      ),
    );
    throw e;
  }
  const draft = await asCaller(async (tx) => {
    await tx.query(
      `UPDATE app.ai_drafts SET status = 'approved', sent_message_id = $3, decided_by = $4
        WHERE business_id = $1 AND id = $2 AND status = 'sending'`,
      [who.businessId, id, message.id, who.userId],
    );
    return readDraft(tx, who.businessId, id);
  });
  return { draft, message };
}
