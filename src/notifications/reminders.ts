// "Task due" notifications and the retention sweep (docs/ARCHITECTURE.md §12.1).
// Both run as the service role inside a job's transaction (src/jobs/notifications.ts,
// pg-boss cron queues); they are plain functions of a `tx`. Claiming a task (reminded_at) and writing
// its notification are one statement, so a crash can neither lose nor double one.
import type { Tx } from '../db/index.ts';
import { userTimeZoneSql } from '../crm/tasks.ts';

/**
 * SQL for a due time as its assignee reads it — "Thu, Nov 19 at 7:00 PM (America/Los_Angeles)"
 * — in her own time zone (her notification settings, default America/New_York, as the
 * digest and "overdue" use; docs/ARCHITECTURE.md §12.1). UTC put US evenings on the next day.
 * `at` and `user` are SQL expressions of the query it is spliced into.
 */
export function dueTimeText(at: string, user: string): string {
  return `(SELECT to_char(${at} AT TIME ZONE z.tz, 'Dy, FMMon FMDD "at" FMHH12:MI AM') || ' (' || z.tz || ')'
    FROM ${userTimeZoneSql(user)} AS z(tz))`;
}

/** Notify the assignees of open tasks whose reminder (or, without one, due) time has come. */
export async function notifyDueTasks(tx: Tx, batch = 500): Promise<number> {
  const r = await tx.query(
    `WITH due AS (
       SELECT t.business_id, t.id FROM app.tasks t
        WHERE NOT t.done AND t.reminded_at IS NULL AND coalesce(t.remind_at, t.due_at) <= now()
          AND t.assignee_id IS NOT NULL
        ORDER BY coalesce(t.remind_at, t.due_at) LIMIT $1 FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE app.tasks t SET reminded_at = now() FROM due
        WHERE t.business_id = due.business_id AND t.id = due.id
       RETURNING t.business_id, t.id, t.title, t.assignee_id, t.contact_id, t.due_at
     )
     INSERT INTO app.notifications (business_id, user_id, kind, title, body, link, subject_id)
     SELECT c.business_id, c.assignee_id, 'task_due', left('Task due: ' || c.title, 200),
            CASE WHEN c.due_at IS NULL THEN '' WHEN c.due_at < now() THEN 'It was due ' || ${dueTimeText('c.due_at', 'c.assignee_id')}
                 ELSE 'Due ' || ${dueTimeText('c.due_at', 'c.assignee_id')} END,
            CASE WHEN c.contact_id IS NOT NULL THEN '/b/' || c.business_id || '/contacts/' || c.contact_id
                 ELSE '/b/' || c.business_id END,
            c.id
       FROM claimed c
       JOIN app.memberships m ON m.business_id = c.business_id AND m.user_id = c.assignee_id`,
    [batch],
  );
  return r.rowCount;
}

/** Notifications older than 90 days go (the service's DELETE policy admits nothing younger). */
export async function purgeOldNotifications(tx: Tx, batch = 5000): Promise<number> {
  const r = await tx.query(
    `DELETE FROM app.notifications WHERE id IN (
       SELECT id FROM app.notifications WHERE created_at < now() - interval '90 days' LIMIT $1)`,
    [batch],
  );
  return r.rowCount;
}
