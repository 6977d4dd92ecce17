// Cross-tab session events. Only the fact of a sign-in or sign-out crosses tabs: tokens
// never do, so a compromised message can at worst trigger a refresh or a local sign-out.
export type SessionMessage = { type: 'signed-in' } | { type: 'signed-out' };

const CHANNEL = 'capto-session';

function open(): BroadcastChannel | null {
  return typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(CHANNEL);
}

const channel = open();

export const sessionChannel = {
  post(message: SessionMessage): void {
    channel?.postMessage(message);
  },
  listen(handler: (message: SessionMessage) => void): () => void {
    const onMessage = (event: MessageEvent) => {
      const data = event.data as Partial<SessionMessage> | null;
      if (data && (data.type === 'signed-in' || data.type === 'signed-out')) handler(data as SessionMessage);
    };
    channel?.addEventListener('message', onMessage);
    return () => channel?.removeEventListener('message', onMessage);
  },
};
