// The scanner's readers of deparsed SQL (no database): how policy expressions are
// split and judged, and how the probe's value generator meets CHECK constraints.
import { describe, expect, it } from 'vitest';
import {
  atoms,
  hasNullClaimsDisjunct,
  isAlwaysTrue,
  isScoped,
  perRowCalls,
  splitTop,
} from '../src/scan/policy-expr.ts';
import { inList, sampleRegex } from '../src/scan/probe-values.ts';

const H = ['app.member_business_ids', 'app.business_ids_with_role', 'app.is_member', 'app.has_role'];
const scoped = (e: string) => isScoped(e, 'business_id', H, 'app.memberships');
const MEMBER = '(business_id = ANY (ARRAY( SELECT app.member_business_ids() AS member_business_ids)))';

describe('policy expressions as pg_get_expr prints them', () => {
  it('splits at top-level OR/AND only, ignoring parentheses and string literals', () => {
    expect(splitTop(`((a = 1) OR ((b = 2) AND (c = 'x OR y')))`, 'OR')).toEqual([
      'a = 1',
      `(b = 2) AND (c = 'x OR y')`,
    ]);
    expect(atoms(`((a IS NULL) OR ((b = 2) AND (c = 3)))`)).toEqual(['a IS NULL', 'b = 2', 'c = 3']);
  });

  it('a policy is scoped only when every OR branch pins the own business_id to a helper', () => {
    expect(scoped(MEMBER)).toBe(true);
    expect(scoped(`(${MEMBER} AND (author_id = ( SELECT app.uid() AS uid)))`)).toBe(true);
    expect(scoped(`(${MEMBER} OR (author_id = ( SELECT app.uid() AS uid)))`)).toBe(false);
    expect(scoped('(business_id IS NOT NULL)')).toBe(false);
    // a sub-select's qualified column is not the row's own column
    expect(
      scoped(
        '(id IN ( SELECT m.user_id FROM app.memberships m WHERE (m.business_id = ANY (ARRAY( SELECT app.member_business_ids() AS x)))))',
      ),
    ).toBe(false);
    // memberships without the caller: every business with any member
    expect(scoped('(business_id IN ( SELECT m.business_id FROM app.memberships m))')).toBe(false);
    expect(
      scoped(
        '(business_id IN ( SELECT m.business_id FROM app.memberships m WHERE (m.user_id = ( SELECT app.uid() AS uid))))',
      ),
    ).toBe(true);
  });

  it('recognises true, NULL-claims escape hatches and per-row helper calls', () => {
    expect(isAlwaysTrue('true')).toBe(true);
    expect(isAlwaysTrue(`(${MEMBER} OR true)`)).toBe(true);
    expect(isAlwaysTrue(MEMBER)).toBe(false);
    expect(hasNullClaimsDisjunct(`((( SELECT app.uid() AS uid) IS NULL) OR ${MEMBER})`)).toBe(true);
    expect(
      hasNullClaimsDisjunct(`(${MEMBER} AND (created_by = ( SELECT app.uid() AS uid)) AND (started_at IS NULL))`),
    ).toBe(false);
    expect(perRowCalls('app.is_member(business_id)', H)).toEqual(['app.is_member']);
    expect(perRowCalls(MEMBER, H)).toEqual([]);
  });
});

describe('probe values from CHECK constraints', () => {
  it('samples strings that match the regular expression, differently each time', () => {
    for (const re of [
      '^\\+[1-9][0-9]{7,14}$',
      '^AC[0-9a-f]{32}$',
      '^[^@\\s]+@[^@\\s]+$',
      '^(draft|sent)$',
      '^[A-Z]{2}$',
    ]) {
      const a = sampleRegex(re);
      expect(new RegExp(re).test(a), `${re} → ${a}`).toBe(true);
    }
    expect(new Set(Array.from({ length: 5 }, () => sampleRegex('^\\+[1-9][0-9]{7,14}$'))).size).toBeGreaterThan(1);
  });

  it('reads IN-lists of the column itself, not of a function of it', () => {
    expect(inList([`CHECK ((status = ANY (ARRAY['queued'::text, 'sent'::text])))`], 'status')).toEqual([
      'queued',
      'sent',
    ]);
    expect(inList([`CHECK ((jsonb_typeof(headers) = 'array'::text))`], 'headers')).toBeUndefined();
  });
});
