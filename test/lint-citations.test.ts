// The citation check of `npm run lint` (scripts/check-citations.mjs): it names a comment
// that cites a document outside the repository or an issue number, and lets citations of
// this repository's own docs and ordinary words pass.
import { describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script without type declarations
import { findCitations } from '../scripts/check-citations.mjs';

const check = (text: string) => (findCitations as (p: string, t: string) => string[])('x.ts', text);

describe('the citation check', () => {
  it('refuses citations a fresh clone cannot follow', () => {
    for (const line of [
      '// The composition root (DESIGN §3).',
      '// Encrypted (DESIGN P2).',
      '// Stable codes (STYLE: supabase/auth apierrors).',
      '// Rate limits (issue 3 §9).',
      '// Issue 10 §4: doctor',
      '// see ../shared/DESIGN.md',
      '// One door (docs/ARCHITECTURE.md §Engines).',
    ])
      expect(check(line), line).toEqual([`x.ts:1: ${line}`]);
  });

  it('lets this repository’s own citations and ordinary words pass', () => {
    for (const line of [
      '// The composition root (docs/ARCHITECTURE.md §2).',
      '// Promise P2: encrypted backups.',
      "import { AppError } from '../shared/errors.ts';",
      '// issue a new access token',
      'const DESIGNER = 1;',
    ])
      expect(check(line), line).toEqual([]);
  });
});
