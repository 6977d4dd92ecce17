// "Suggest reply" in the composer: streams the model's draft into the message box, where
// the person edits it. Nothing is sent until she presses Send herself.
import { useRef, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, bpath, errorMessage } from '../api/client.ts';
import { useBusiness } from '../app/me.ts';
import { Alert } from '../components/states.tsx';
import { aiUnavailableReason, streamSuggestion, useAiStatus, type AiFlag } from './api.ts';
import { AiFlags } from './flags.tsx';

export function SuggestReply({
  conversationId,
  disabled,
  onText,
}: {
  conversationId: string;
  disabled: boolean;
  onText: (text: string) => void;
}) {
  const { bid, canManage } = useBusiness();
  const queryClient = useQueryClient();
  const status = useAiStatus(bid);
  const [busy, setBusy] = useState(false);
  const [flags, setFlags] = useState<AiFlag[]>([]);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  const draft = useMutation({
    mutationFn: () => api(bpath(bid, 'ai', 'drafts'), { body: { conversation_id: conversationId } }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['ai-drafts', bid] }),
  });
  const reason = aiUnavailableReason(status.data, canManage);
  if (status.isPending || status.isError) return null;
  if (reason) {
    return (
      <p className="small muted" data-testid="ai-unavailable">
        {reason} {canManage && <Link to={`/b/${bid}/settings/integrations`}>Open Integrations</Link>}
      </p>
    );
  }
  const suggest = async () => {
    abort.current = new AbortController();
    setBusy(true);
    setError(null);
    setFlags([]);
    try {
      const done = await streamSuggestion(bid, conversationId, onText, abort.current.signal);
      setFlags(done.flags);
    } catch (e) {
      if (!abort.current.signal.aborted) setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="ai-tools">
      <div className="row">
        {busy ? (
          <button type="button" onClick={() => abort.current?.abort()}>
            Stop
          </button>
        ) : (
          <button type="button" onClick={() => void suggest()} disabled={disabled}>
            Suggest reply
          </button>
        )}
        <button
          type="button"
          className="link-button"
          onClick={() => draft.mutate()}
          disabled={disabled || draft.isPending}
        >
          Queue an AI draft for review
        </button>
        {busy && <span className="small muted">Writing…</span>}
        {draft.isSuccess && (
          <span className="small muted">
            Draft queued. <Link to={`/b/${bid}/ai-drafts`}>Review drafts</Link>
          </span>
        )}
      </div>
      {error && <Alert kind="error">{error}</Alert>}
      {draft.isError && <Alert kind="error">{errorMessage(draft.error)}</Alert>}
      <AiFlags flags={flags} />
      {!busy && flags.length === 0 && !error && (
        <p className="small muted">AI suggestions are drafts: read and edit before you press Send.</p>
      )}
    </div>
  );
}
