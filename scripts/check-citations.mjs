// `npm run lint:citations`: comments and docs cite this repository's own docs
// (docs/ARCHITECTURE.md §N — a number, docs/SECURITY.md, docs/OPERATIONS.md), never a design or style
// document outside it or an issue number a fresh clone cannot follow. Exits 1 naming every
// offending line. Migrations applied before this check (0002–0009, 0060, 0070) are exempt:
// they are checksummed, so their SQL comments cannot change (docs/ARCHITECTURE.md §10).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const FORBIDDEN_CITATION =
  /\b(DESIGN|STYLE)(\.md\b|\s*§|\s+P\d|:)|\b[Ii]ssues? #?\d+|\/work\/shared\b|\.\.\/shared\/\w+\.md|ARCHITECTURE\.md §(?![\dN])/;

const APPLIED_MIGRATIONS = new Set([
  'migrations/0002_create_auth.sql',
  'migrations/0003_extend_tenancy.sql',
  'migrations/0004_create_crm.sql',
  'migrations/0005_create_integrations.sql',
  'migrations/0006_create_imports.sql',
  'migrations/0007_index_contact_search.sql',
  'migrations/0008_lighten_import_path.sql',
  'migrations/0009_compile_scope_helpers.sql',
  // Section names rather than numbers; applied before section citations were numbered.
  'migrations/0060_extend_deals_loan_files.sql',
  'migrations/0070_create_custom_fields.sql',
]);
const CHECKED = /\.(ts|tsx|mts|mjs|js|cjs|sql|md|json|yml|yaml|sh|html|css)$|^\.ci\/|^bin\//;
const SKIPPED = /(^|\/)(package-lock\.json|node_modules\/)|^test\/fixtures\/|^bench\/results\.json$/;

/** Offending lines of one file's text, as `path:line: text`. */
export function findCitations(path, text) {
  const out = [];
  text.split('\n').forEach((line, i) => {
    if (FORBIDDEN_CITATION.test(line)) out.push(`${path}:${i + 1}: ${line.trim().slice(0, 160)}`);
  });
  return out;
}

function main() {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && CHECKED.test(f) && !SKIPPED.test(f) && !APPLIED_MIGRATIONS.has(f))
    .filter((f) => f !== 'scripts/check-citations.mjs' && f !== 'test/lint-citations.test.ts');
  const found = [];
  for (const f of files) {
    let text;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue; // deleted in the working tree
    }
    found.push(...findCitations(f, text));
  }
  if (found.length > 0) {
    console.error(
      `${found.length} citation(s) of documents outside this repository; cite docs/ARCHITECTURE.md §N instead:\n${found.join('\n')}`,
    );
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
