// Wall-clock arithmetic in a business's time zone (docs/ARCHITECTURE.md §25): waits of days,
// "next Tuesday at 09:00", the SMS window. Built on Intl (the runtime's ICU), so daylight
// saving changes keep the local time: "wait 1 day" from 10:00 is 10:00 the next day.

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

interface LocalParts {
  y: number;
  m: number;
  d: number;
  hh: number;
  mm: number;
  weekday: Weekday;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function format(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
      hourCycle: 'h23',
    });
    formats.set(timeZone, f);
  }
  return f;
}

export function localParts(timeZone: string, at: Date): LocalParts {
  const p = Object.fromEntries(
    format(timeZone)
      .formatToParts(at)
      .map((x) => [x.type, x.value]),
  );
  return {
    y: Number(p.year),
    m: Number(p.month),
    d: Number(p.day),
    hh: Number(p.hour),
    mm: Number(p.minute),
    weekday: String(p.weekday).toLowerCase().slice(0, 3) as Weekday,
  };
}

const DAY = 86_400_000;

/** The wall clock at `t` read as UTC, to the minute. */
function wallAt(timeZone: string, t: number): number {
  const p = localParts(timeZone, new Date(t));
  return Date.UTC(p.y, p.m - 1, p.d, p.hh, p.mm);
}

/**
 * The instant a wall-clock time happens in a zone. As RFC 5545 §3.3.5 reads local times: one
 * that daylight saving skips takes the offset before the change, so it moves forward by the gap
 * (02:30 in a 02:00 → 03:00 gap is 03:30); one that happens twice is its first occurrence.
 */
export function zonedTime(timeZone: string, y: number, m: number, d: number, hh: number, mm: number): Date {
  const wanted = Date.UTC(y, m - 1, d, hh, mm);
  // The offsets a day either side: the instant is within 14 h of `wanted`, and no zone changes
  // its offset twice within two days, so these are the offsets before and after any change.
  const before = wallAt(timeZone, wanted - DAY) - (wanted - DAY);
  const after = wallAt(timeZone, wanted + DAY) - (wanted + DAY);
  const early = wanted - before;
  if (before === after || wallAt(timeZone, early) === wanted) return new Date(early);
  const late = wanted - after;
  if (wallAt(timeZone, late) === wanted) return new Date(late);
  return new Date(early); // in the gap
}

const hm = (at: string) => at.split(':').map(Number) as [number, number];

/** `days` calendar days later at the same local time. */
export function addLocalDays(timeZone: string, from: Date, days: number): Date {
  const p = localParts(timeZone, from);
  const t = zonedTime(timeZone, p.y, p.m, p.d + days, p.hh, p.mm);
  // Keep the seconds of `from` so a chain of waits does not drift to the minute.
  return new Date(t.getTime() + (from.getTime() % 60_000));
}

/** The first instant after `from` that is `at` local time on one of `weekdays` (any day when omitted). */
export function nextLocalTime(timeZone: string, from: Date, at: string, weekdays?: readonly Weekday[]): Date {
  const [hh, mm] = hm(at);
  const p = localParts(timeZone, from);
  for (let k = 0; k <= 8; k++) {
    const candidate = zonedTime(timeZone, p.y, p.m, p.d + k, hh, mm);
    if (candidate.getTime() <= from.getTime()) continue;
    if (!weekdays || weekdays.includes(localParts(timeZone, candidate).weekday)) return candidate;
  }
  throw new Error('unreachable: every weekday occurs within 8 days');
}

/**
 * When an SMS may go out: `from` itself inside the window [start, end) local hours, else the
 * window's next opening.
 */
export function nextSmsWindow(window: readonly [number, number] | null, timeZone: string, from: Date): Date {
  if (!window) return from;
  const p = localParts(timeZone, from);
  if (p.hh >= window[0] && p.hh < window[1]) return from;
  const day = p.hh < window[0] ? p.d : p.d + 1;
  return zonedTime(timeZone, p.y, p.m, day, window[0], 0);
}

/** The local calendar date (YYYY-MM-DD) `days` after `from`. */
export function localDate(timeZone: string, from: Date, days = 0): string {
  const p = localParts(timeZone, from);
  const d = new Date(Date.UTC(p.y, p.m - 1, p.d + days));
  return d.toISOString().slice(0, 10);
}
