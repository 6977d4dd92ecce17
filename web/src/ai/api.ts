// AI assistance in the web app (docs/ARCHITECTURE.md §23): the provider's
// status, and the suggested reply read as server-sent events. Model output is only
// ever put into text nodes or a textarea — never HTML, never Markdown (docs/SECURITY.md).
import { useQuery } from '@tanstack/react-query';
import { api, bpath, toApiError } from '../api/client.ts';
import { currentAccessToken, refreshSession } from '../auth/session.ts';

export interface AiFlag {
  kind: 'phone' | 'email';
  value: string;
  reason: string;
}

export interface AiStatus {
  provider: {
    provider: 'openai' | 'openai_compatible';
    model: string;
    base_url: string | null;
    configured_by_email: string | null;
    configured_at: string;
  } | null;
  settings: { enabled: boolean; about: string; monthly_token_budget: number };
}

export function useAiStatus(bid: string) {
  return useQuery({
    queryKey: ['ai', bid],
    queryFn: () => api<AiStatus>(bpath(bid, 'integrations', 'ai')),
    staleTime: 30_000,
  });
}

/** Why AI is not available here, in words for the user; null when it is. */
export function aiUnavailableReason(status: AiStatus | undefined, canManage: boolean): string | null {
  if (!status) return null;
  const who = canManage ? 'You can' : 'An owner or admin can';
  if (!status.provider) return `AI suggestions need an AI provider. ${who} add one in Settings → Integrations.`;
  if (!status.settings.enabled)
    return `AI assistance is turned off for this business. ${who} turn it on in Settings → Integrations.`;
  return null;
}

export interface Suggestion {
  text: string;
  flags: AiFlag[];
}

async function openStream(path: string, signal: AbortSignal): Promise<Response> {
  const go = () =>
    fetch(path, {
      method: 'POST',
      headers: { accept: 'text/event-stream', authorization: `Bearer ${currentAccessToken() ?? ''}` },
      signal,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  let res = await go();
  if (res.status === 401 && (await refreshSession())) res = await go();
  if (!res.ok) throw await toApiError(res);
  return res;
}

/** Stream a suggested reply; `onText` receives the text so far after every piece. */
export async function streamSuggestion(
  bid: string,
  conversationId: string,
  onText: (text: string) => void,
  signal: AbortSignal,
): Promise<Suggestion> {
  const res = await openStream(bpath(bid, 'conversations', conversationId, 'suggest-reply'), signal);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!event || data === undefined) continue;
      const payload = JSON.parse(data) as { text?: string; flags?: AiFlag[]; code?: string; message?: string };
      if (event === 'delta') {
        text += payload.text ?? '';
        onText(text);
      } else if (event === 'done') {
        onText(payload.text ?? text);
        return { text: payload.text ?? text, flags: payload.flags ?? [] };
      } else if (event === 'error') {
        throw new Error(payload.message ?? 'The AI answer broke off; try again.');
      }
    }
  }
  throw new Error('The AI answer broke off; try again.');
}
