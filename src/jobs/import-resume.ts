// CSV imports whose runner stopped (its node crashed or shut down mid-job) resume on any
// node (docs/ARCHITECTURE.md §14). A job counts as stopped when no batch has
// committed for IDLE_SECONDS — a live runner commits one every few seconds — so a
// node never takes over an import another node is still running; and even if it did,
// the runner's per-batch lock and cursor check keep the two from importing a row twice.
import type { ImportRunner } from '../crm/import/import-runner.ts';
import type { JobHandler } from './engine.ts';
import { defineQueue, noPayload } from './queue.ts';

export const IMPORT_IDLE_SECONDS = 60;

export const importResumeQueue = defineQueue({
  name: 'import.resume',
  payload: noPayload,
  policy: { policy: 'exclusive', retryLimit: 1, expireInSeconds: 300, deleteAfterSeconds: 3600 },
  cron: '* * * * *',
});

export function importResumeHandler(runner: ImportRunner, idleSeconds = IMPORT_IDLE_SECONDS): JobHandler<object> {
  return async () => {
    await runner.resumeInterrupted({ idleSeconds });
  };
}
