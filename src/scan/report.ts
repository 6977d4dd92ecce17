// Three renderings of one ScanReport: a table for people, JSON for scripts, and
// SARIF 2.1.0 for code-scanning tools (each lint is a rule; each finding a result
// with a logical location, plus the migration file that mentions the object).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MIGRATIONS_DIR } from '../db/migrator.ts';
import { LINTS, type LintName } from './registry.ts';
import type { ScanReport } from './run.ts';
import type { Finding, Level } from './types.ts';

const RANK: Record<Level, number> = { ERROR: 0, WARN: 1, INFO: 2 };
export const atLeast = (findings: Finding[], level: Level) => findings.filter((f) => RANK[f.level] <= RANK[level]);

export function renderTable(report: ScanReport, level: Level = 'INFO'): string {
  const lines: string[] = [];
  const s = report.schemas;
  lines.push(`Capto database security scan — engine: ${report.engine}`);
  lines.push(
    `schemas scanned: ${s.scanned.join(', ') || '(none)'}${s.missing.length ? `; not present: ${s.missing.join(', ')}` : ''}${s.excluded.length ? `; excluded by config: ${s.excluded.join(', ')}` : ''}`,
  );
  const shown = atLeast(report.findings, level);
  if (shown.length === 0) lines.push('', `no findings at level ${level} or above`);
  else {
    lines.push('');
    const w = {
      name: Math.max(4, ...shown.map((f) => f.name.length)),
      object: Math.min(60, Math.max(6, ...shown.map((f) => f.object.length))),
    };
    lines.push(`${'LEVEL'.padEnd(6)} ${'LINT'.padEnd(w.name)} ${'OBJECT'.padEnd(w.object)} REASON`);
    for (const f of shown) {
      lines.push(
        `${(f.waived ? 'waived' : f.level).padEnd(6)} ${f.name.padEnd(w.name)} ${f.object.padEnd(w.object)} ${f.reason}`,
      );
      if (f.level !== 'INFO' && !f.waived) lines.push(`${''.padEnd(7 + w.name)} fix: ${f.remedy}`);
      if (f.waived) lines.push(`${''.padEnd(7 + w.name)} waiver: ${f.waived.reason}`);
    }
  }
  if (report.probe) {
    const m = report.probe.matrix;
    const cols = ['own', 'select', 'update', 'delete', 'insert', 'move', 'claims'] as const;
    const tw = Math.max(5, ...m.map((r) => r.table.length));
    lines.push(
      '',
      'Cross-tenant probe (A = owner/admin/member of business A acting on business B; insert also by the outsider and anon; claims = outsider, non-member, missing/empty/malformed claims and anon read, update and delete nothing)',
    );
    lines.push(`${'TABLE'.padEnd(tw)} ${cols.map((c) => c.padEnd(6)).join(' ')} NOTES`);
    for (const r of m)
      lines.push(`${r.table.padEnd(tw)} ${cols.map((c) => r.cells[c].padEnd(6)).join(' ')} ${r.notes.join('; ')}`);
    lines.push(
      "ok = refused or invisible as required (own: a member of A saw A's row); LEAK = the action succeeded; - = not applicable (no privilege); skip = probe could not run it",
    );
  }
  const leaks = report.findings.filter((f) => f.name === 'probe_leak' && !f.waived).length;
  lines.push(
    '',
    `${report.counts.ERROR} error(s), ${report.counts.WARN} warning(s), ${report.counts.INFO} info${report.probe ? `; probe: ${report.probe.tablesProbed} tables, ${leaks} leak(s)` : ''}`,
  );
  lines.push(report.blocking > 0 ? 'RESULT: FAIL' : 'RESULT: PASS');
  return lines.join('\n');
}

export function renderJson(report: ScanReport, level: Level = 'INFO'): string {
  return JSON.stringify(
    {
      ...report,
      findings: atLeast(report.findings, level),
      probe: report.probe && { tablesProbed: report.probe.tablesProbed, matrix: report.probe.matrix },
    },
    null,
    2,
  );
}

const SARIF_LEVEL: Record<Level, 'error' | 'warning' | 'note'> = { ERROR: 'error', WARN: 'warning', INFO: 'note' };

/** The first migration line that mentions the object's table or function name. */
function locate(object: string, migrations: { file: string; lines: string[] }[]) {
  const m = /([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)/.exec(object.replace(/^(function|schema|role|session) /, ''));
  if (!m) return undefined;
  const needle = new RegExp(`\\b${m[1]}\\.${m[2]}\\b`);
  for (const mig of migrations) {
    const idx = mig.lines.findIndex((l) => needle.test(l));
    if (idx >= 0) return { artifactLocation: { uri: `migrations/${mig.file}` }, region: { startLine: idx + 1 } };
  }
  return undefined;
}

export function renderSarif(report: ScanReport, level: Level = 'INFO', migrationsDir = MIGRATIONS_DIR): string {
  let migrations: { file: string; lines: string[] }[] = [];
  try {
    migrations = readdirSync(migrationsDir)
      .filter((f) => f.endsWith('.sql'))
      .sort()
      .map((file) => ({ file, lines: readFileSync(path.join(migrationsDir, file), 'utf8').split('\n') }));
  } catch {
    migrations = [];
  }
  const names = Object.keys(LINTS) as LintName[];
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'capto-scan',
            informationUri: 'https://capto.example/docs/SECURITY.md#database-security-scan',
            rules: names.map((id) => ({
              id,
              name: id,
              shortDescription: { text: LINTS[id].title },
              help: { text: LINTS[id].remedy },
              defaultConfiguration: { level: SARIF_LEVEL[LINTS[id].level] },
              properties: { category: LINTS[id].category },
            })),
          },
        },
        results: atLeast(report.findings, level).map((f) => {
          const physical = locate(f.object, migrations);
          return {
            ruleId: f.name,
            ruleIndex: names.indexOf(f.name as LintName),
            level: SARIF_LEVEL[f.level],
            message: { text: `${f.object}: ${f.reason}. Fix: ${f.remedy}` },
            locations: [
              {
                logicalLocations: [{ fullyQualifiedName: f.object }],
                ...(physical ? { physicalLocation: physical } : {}),
              },
            ],
            ...(f.waived ? { suppressions: [{ kind: 'external', justification: f.waived.reason }] } : {}),
          };
        }),
      },
    ],
  };
  return JSON.stringify(sarif, null, 2);
}
