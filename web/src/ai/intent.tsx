// Intent labels of inbound texts (set by the AI provider, by a job): a chip in the inbox
// and a filter. A label never changes consent — only STOP does.
export const INTENT_LABELS: Record<string, string> = {
  wants_to_apply: 'Wants to apply',
  question: 'Question',
  document_sent: 'Document sent',
  schedule_call: 'Schedule a call',
  not_interested: 'Not interested',
  wrong_number: 'Wrong number',
  other: 'Other',
};

export function IntentChip({ intent }: { intent: string | null | undefined }) {
  if (!intent) return null;
  return (
    <span className="chip" data-testid="intent-chip" title="AI intent label">
      {INTENT_LABELS[intent] ?? intent}
    </span>
  );
}

export function IntentFilter({ value, onChange }: { value: string; onChange: (intent: string) => void }) {
  return (
    <div className="field">
      <label htmlFor="intent-filter">Intent</label>
      <select id="intent-filter" value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">All conversations</option>
        {Object.entries(INTENT_LABELS).map(([k, v]) => (
          <option key={k} value={k}>
            {v}
          </option>
        ))}
      </select>
    </div>
  );
}
