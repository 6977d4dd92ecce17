// Validation errors read as sentences for people (docs/ARCHITECTURE.md §20 "Errors
// for people"): the field's name as a person says it, what is wrong, and a schema's own
// message as written. The issues come from real zod schemas of the API.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { dealCreate } from '../src/crm/schemas.ts';
import { fieldLabel, issueSentence } from '../src/server/error-handler.ts';
import { createBusinessBody } from '../src/tenancy/schemas.ts';

function sentences(schema: z.ZodType, input: unknown): string[] {
  const r = schema.safeParse(input);
  if (r.success) throw new Error('expected a validation failure');
  return r.error.issues.map((i) => {
    const { code, path, message, ...params } = i as unknown as {
      code: string;
      path: PropertyKey[];
      message: string;
    } & Record<string, unknown>;
    return issueSentence({ code, path, message, params });
  });
}

describe('validation sentences', () => {
  it('names fields as people do', () => {
    expect(fieldLabel(['nmls_number'])).toBe('NMLS number');
    expect(fieldLabel(['milestones', 'appraisal_ordered'])).toBe('Appraisal ordered');
    expect(fieldLabel(['contact_ids', '3'])).toBe('Contact IDs');
    expect(fieldLabel([])).toBe('The request');
  });

  it('phrases the API schemas’ failures as sentences', () => {
    expect(sentences(createBusinessBody, { name: 'Harbor', nmls_number: '12ab' })).toEqual([
      'NMLS number must be 1–12 digits.',
    ]);
    expect(sentences(createBusinessBody, { name: '' })).toEqual(['Name is required.']);
    expect(sentences(createBusinessBody, { name: 'A', color: 'red' })).toEqual([
      'color is not a field this request accepts.',
    ]);
    expect(sentences(dealCreate, { title: 'x'.repeat(201) })).toEqual(['Title must be at most 200 characters.']);
    expect(sentences(dealCreate, {})).toEqual(['Title is required.']);
    expect(sentences(dealCreate, { title: 'X', loan_purpose: 'flip' })).toEqual([
      'Loan purpose must be one of: purchase, refinance, cash out.',
    ]);
    expect(sentences(dealCreate, { title: 'X', milestones: { funded: 'soon' } })).toEqual([
      'Funded must be a date (YYYY-MM-DD).',
    ]);
    expect(sentences(dealCreate, { title: 'X', amount_cents: 'lots' })).toEqual(['Amount must be a number.']);
    expect(sentences(dealCreate, { title: 'X', rate_percent: 120 })).toEqual(['Rate must be at most 99.999.']);
    expect(sentences(dealCreate, { title: 'X', contact_id: 'nobody' })).toEqual(['Contact must be a valid ID.']);
  });
});
