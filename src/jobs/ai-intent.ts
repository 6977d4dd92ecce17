// Intent of an inbound text (docs/ARCHITECTURE.md §23): one job per stored inbound SMS,
// enqueued by the webhook after its transaction committed. Ids only in the payload.
import { z } from 'zod';
import { classifyInboundMessage } from '../ai/intents.ts';
import type { AssistDeps } from '../ai/assist.ts';
import type { JobHandler } from './engine.ts';
import { defineQueue, id } from './queue.ts';

const payload = z.object({ business_id: id(), message_id: id() }).strict();
export type AiIntentPayload = z.infer<typeof payload>;

export const aiIntentQueue = defineQueue({
  name: 'ai.intent',
  payload,
  // A provider error is retried twice, a minute apart; a label is cheap but not free.
  policy: { retryLimit: 2, retryDelay: 60, expireInSeconds: 300 },
});

export function aiIntentHandler(assist: AssistDeps): JobHandler<AiIntentPayload> {
  return async (p) => {
    await classifyInboundMessage(assist, p);
  };
}
