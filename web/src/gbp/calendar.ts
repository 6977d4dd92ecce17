// The posts list as a calendar (docs/ARCHITECTURE.md §26): drafts first, then one group per day
// in the business's time zone, in time order. A post's day is when it went (or goes) out:
// published_at, else publish_at, else when it was written.
import type { Post } from './api.ts';

export interface DayGroup {
  key: string;
  label: string;
  posts: Post[];
}

export const whenOf = (p: Post): string => p.published_at ?? p.publish_at ?? p.created_at;

export function groupPostsByDay(posts: Post[], timeZone: string, locale?: string): DayGroup[] {
  const dayKey = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const dayLabel = new Intl.DateTimeFormat(locale, {
    timeZone,
    weekday: 'long',
    month: 'long',
    day: 'numeric',
    year: 'numeric',
  });
  const drafts = posts.filter((p) => p.state === 'draft');
  const dated = posts.filter((p) => p.state !== 'draft').sort((a, b) => Date.parse(whenOf(a)) - Date.parse(whenOf(b)));
  const groups: DayGroup[] = drafts.length ? [{ key: 'drafts', label: 'Drafts', posts: drafts }] : [];
  for (const p of dated) {
    const when = new Date(whenOf(p));
    const key = dayKey.format(when);
    const last = groups[groups.length - 1];
    if (last && last.key === key) last.posts.push(p);
    else groups.push({ key, label: dayLabel.format(when), posts: [p] });
  }
  return groups;
}

export function formatTimeIn(value: string, timeZone: string, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { timeZone, hour: 'numeric', minute: '2-digit' }).format(new Date(value));
}
