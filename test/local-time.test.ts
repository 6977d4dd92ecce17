// Wall-clock arithmetic in a business's time zone (docs/ARCHITECTURE.md §25), no database: a
// wall time that daylight saving skips moves forward by the gap, a repeated one is its first
// occurrence (RFC 5545 §3.3.5), in both hemispheres, east and west of Greenwich, for 30-minute
// shifts and for zones that jump at midnight.
import { describe, expect, it } from 'vitest';
import { addLocalDays, localParts, nextLocalTime, nextSmsWindow, zonedTime } from '../src/shared/local-time.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** "YYYY-MM-DD HH:MM ddd" of an instant in a zone. */
function wall(timeZone: string, at: Date): string {
  const p = localParts(timeZone, at);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${p.y}-${two(p.m)}-${two(p.d)} ${two(p.hh)}:${two(p.mm)} ${p.weekday}`;
}

/** The zone's UTC offset at an instant, in ms (wall clock read as UTC minus the instant). */
function offsetAt(timeZone: string, t: number): number {
  const p = localParts(timeZone, new Date(t));
  return Date.UTC(p.y, p.m - 1, p.d, p.hh, p.mm) - t;
}

interface Transition {
  at: number; // the first instant on the new offset
  before: number;
  after: number;
}

/** Every offset change in [from, to), to the minute (sampled every 6 h, then bisected). */
function transitions(timeZone: string, from: number, to: number): Transition[] {
  const found: Transition[] = [];
  for (let t = from; t < to; t += 6 * HOUR) {
    const before = offsetAt(timeZone, t);
    const after = offsetAt(timeZone, t + 6 * HOUR);
    if (before === after) continue;
    let lo = t;
    let hi = t + 6 * HOUR;
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
      if (offsetAt(timeZone, mid) === before) lo = mid;
      else hi = mid;
    }
    found.push({ at: hi, before, after });
  }
  return found;
}

/** zonedTime for a wall time given as a UTC-read millisecond count. */
function zonedAt(timeZone: string, wallMs: number): Date {
  const w = new Date(wallMs);
  return zonedTime(
    timeZone,
    w.getUTCFullYear(),
    w.getUTCMonth() + 1,
    w.getUTCDate(),
    w.getUTCHours(),
    w.getUTCMinutes(),
  );
}

const ZONES = [
  'Europe/Berlin',
  'Europe/London',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Asia/Beirut',
  'America/New_York',
  'America/Santiago',
  'Pacific/Auckland',
];

describe('zonedTime', () => {
  it('moves a wall time that daylight saving skips forward by the gap, east and west of Greenwich', () => {
    // 2026-03-29 02:00 CET → 03:00 CEST: 02:30 happens at what would have been 02:30 CET.
    expect(wall('Europe/Berlin', zonedTime('Europe/Berlin', 2026, 3, 29, 2, 30))).toBe('2026-03-29 03:30 sun');
    expect(zonedTime('Europe/Berlin', 2026, 3, 29, 2, 30).toISOString()).toBe('2026-03-29T01:30:00.000Z');
    expect(wall('America/New_York', zonedTime('America/New_York', 2026, 3, 8, 2, 30))).toBe('2026-03-08 03:30 sun');
    expect(wall('Australia/Sydney', zonedTime('Australia/Sydney', 2026, 10, 4, 2, 30))).toBe('2026-10-04 03:30 sun');
    // A 30-minute shift (02:00 → 02:30) and a jump at midnight (00:00 → 01:00).
    expect(wall('Australia/Lord_Howe', zonedTime('Australia/Lord_Howe', 2026, 10, 4, 2, 0))).toBe(
      '2026-10-04 02:30 sun',
    );
    expect(wall('Asia/Beirut', zonedTime('Asia/Beirut', 2026, 3, 29, 0, 0))).toBe('2026-03-29 01:00 sun');
  });

  it('reads a wall time that happens twice (clocks turned back) as its first occurrence', () => {
    // Berlin 2026-10-25 02:30 is 00:30Z (CEST) and again 01:30Z (CET).
    expect(zonedTime('Europe/Berlin', 2026, 10, 25, 2, 30).toISOString()).toBe('2026-10-25T00:30:00.000Z');
    expect(zonedTime('Europe/London', 2026, 10, 25, 1, 30).toISOString()).toBe('2026-10-25T00:30:00.000Z');
    // New York 2026-11-01 01:30 is 05:30Z (EDT) and again 06:30Z (EST).
    expect(zonedTime('America/New_York', 2026, 11, 1, 1, 30).toISOString()).toBe('2026-11-01T05:30:00.000Z');
  });

  // Every gap and every overlap of these zones in 2026–2027, read from the runtime's own
  // zone data, at its edges and inside it.
  it.each(ZONES)('%s: every skipped or repeated wall time in 2026–2027', (zone) => {
    const all = transitions(zone, Date.UTC(2025, 11, 31), Date.UTC(2028, 0, 2));
    expect(all).toHaveLength(4); // two changes a year
    for (const { at, before, after } of all) {
      const shift = after - before;
      const edge = at + before; // the wall time the old offset reaches at the change
      if (shift > 0) {
        // Gap [edge, edge + shift): each skipped wall time lands `shift` later, i.e. at the
        // instant it would have had on the old offset — on or after the change.
        for (const w of [edge, edge + shift / 2, edge + shift - MINUTE]) {
          const got = zonedAt(zone, w).getTime();
          expect(got, `${zone} ${new Date(w).toISOString()}`).toBe(w - before);
          expect(got).toBeGreaterThanOrEqual(at);
          expect(got + after).toBe(w + shift);
        }
      } else {
        // Overlap [edge + shift, edge): the first occurrence, on the old offset.
        for (const w of [edge + shift, edge + shift / 2, edge - MINUTE]) {
          const got = zonedAt(zone, w).getTime();
          expect(got, `${zone} ${new Date(w).toISOString()}`).toBe(w - before);
          expect(got).toBeLessThan(at);
        }
      }
      // The wall times around it exist once and are exact.
      const low = edge + Math.min(0, shift) - MINUTE;
      const high = edge + Math.max(0, shift);
      expect(zonedAt(zone, low).getTime()).toBe(low - before);
      expect(zonedAt(zone, high).getTime()).toBe(high - after);
    }
  });
});

describe('addLocalDays and nextLocalTime across a change', () => {
  it('a day after a time that is skipped the next day lands after the gap, not before it', () => {
    const lordHowe = 'Australia/Lord_Howe';
    expect(wall(lordHowe, addLocalDays(lordHowe, zonedTime(lordHowe, 2026, 10, 3, 2, 0), 1))).toBe(
      '2026-10-04 02:30 sun',
    );
    const beirut = 'Asia/Beirut';
    expect(wall(beirut, addLocalDays(beirut, zonedTime(beirut, 2026, 3, 28, 0, 0), 1))).toBe('2026-03-29 01:00 sun');
    // Keeps 10:00 at 10:00 over the change.
    const ny = 'America/New_York';
    expect(wall(ny, addLocalDays(ny, zonedTime(ny, 2026, 3, 7, 10, 0), 1))).toBe('2026-03-08 10:00 sun');
  });

  it('"next Sunday at" a skipped time is that Sunday, after the gap', () => {
    const beirut = 'Asia/Beirut';
    expect(wall(beirut, nextLocalTime(beirut, zonedTime(beirut, 2026, 3, 28, 12, 0), '00:00', ['sun']))).toBe(
      '2026-03-29 01:00 sun',
    );
    const sydney = 'Australia/Sydney';
    expect(wall(sydney, nextLocalTime(sydney, zonedTime(sydney, 2026, 10, 3, 12, 0), '02:30', ['sun']))).toBe(
      '2026-10-04 03:30 sun',
    );
    const ny = 'America/New_York';
    expect(wall(ny, nextLocalTime(ny, zonedTime(ny, 2026, 3, 7, 12, 0), '02:30', ['sun']))).toBe(
      '2026-03-08 03:30 sun',
    );
  });

  it('the SMS window opening at a skipped hour opens after the gap', () => {
    const beirut = 'Asia/Beirut';
    const at = nextSmsWindow([0, 21], beirut, zonedTime(beirut, 2026, 3, 28, 22, 0));
    expect(wall(beirut, at)).toBe('2026-03-29 01:00 sun');
  });
});
