import { Alert } from '../components/states.tsx';
import type { AiFlag } from './api.ts';

/** Phone numbers or emails in model output that are neither the contact's nor the business's. */
export function AiFlags({ flags }: { flags: AiFlag[] }) {
  if (flags.length === 0) return null;
  return (
    <Alert kind="warn">
      <span data-testid="ai-flags">
        Check before sending: the AI text mentions {flags.map((f) => f.value).join(', ')}, which{' '}
        {flags.length === 1 ? 'is' : 'are'} not this contact's or your business's.
      </span>
    </Alert>
  );
}
