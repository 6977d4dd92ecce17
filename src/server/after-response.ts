// Work that must not delay an answer, run once the answer is out. Used where the time a
// request takes would tell an attacker something (forgot-password: a registered address
// costs a token, an event and a mail; an unknown one costs nothing): the route answers
// first, then does the work, so both answers take the same time (ASVS 6.3.8).
//
// Tasks start when the response closes (sent, or the client went away: the work was
// asked for either way). Their failures are logged, never surfaced. `drain()` waits for
// every scheduled task, so a stopping server finishes them before its database closes.
import type { FastifyReply } from 'fastify';
import type { Logger } from '../observability/logger.ts';

export interface AfterResponse {
  schedule(reply: FastifyReply, name: string, task: () => Promise<void>): void;
  drain(): Promise<void>;
}

export function createAfterResponse(logger: Pick<Logger, 'error'>): AfterResponse {
  const running = new Set<Promise<void>>();
  return {
    schedule(reply, name, task) {
      let release!: () => void;
      const done = new Promise<void>((resolve) => (release = resolve));
      running.add(done);
      const start = () => {
        void Promise.resolve()
          .then(task)
          .catch((err: unknown) => logger.error({ err, task: name }, 'work after the response failed'))
          .finally(() => {
            running.delete(done);
            release();
          });
      };
      const res = reply.raw;
      if (res.destroyed || res.writableFinished) start();
      else res.once('close', start);
    },
    async drain() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
