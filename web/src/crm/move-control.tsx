// Moving a deal to another stage from the keyboard: choose the stage, then press Move.
// A select that moved the deal on every change would move it once per arrow key (a
// closed select changes its value on ArrowUp/ArrowDown in Chromium on Linux and Windows).
import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, bpath } from '../api/client.ts';
import { DEAL_STAGES, humanize, type Deal, type DealStage } from './types.ts';

export function MoveControl({
  bid,
  deal,
  onMove,
}: {
  bid: string;
  deal: Pick<Deal, 'id' | 'title' | 'stage'>;
  /** The pipeline moves optimistically itself; elsewhere the control sends the move. */
  onMove?: (stage: DealStage) => void;
}) {
  const queryClient = useQueryClient();
  const [target, setTarget] = useState<DealStage>(deal.stage);
  const move = useMutation({
    mutationFn: (stage: DealStage) => api<Deal>(bpath(bid, 'deals', deal.id, 'move'), { body: { stage } }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['deals', bid] });
      await queryClient.invalidateQueries({ queryKey: ['deal', bid, deal.id] });
      await queryClient.invalidateQueries({ queryKey: ['deal-stages', bid, deal.id] });
    },
  });
  const id = `move-${deal.id}`;
  return (
    <div className="move-control">
      <label className="sr-only" htmlFor={id}>
        Move {deal.title} to stage
      </label>
      <select id={id} value={target} onChange={(e) => setTarget(e.target.value as DealStage)}>
        {DEAL_STAGES.map((s) => (
          <option key={s} value={s}>
            {s === deal.stage ? `In ${humanize(s)}` : humanize(s)}
          </option>
        ))}
      </select>
      <button
        type="button"
        disabled={target === deal.stage || move.isPending}
        aria-label={`Move ${deal.title} to ${humanize(target)}`}
        onClick={() => (onMove ? onMove(target) : move.mutate(target))}
      >
        Move
      </button>
    </div>
  );
}
