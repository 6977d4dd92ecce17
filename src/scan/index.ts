// The scanner's public surface for the CLI, the composition root and tests.
export { defaultScanConfig, withSchemas } from './config.ts';
export { scanEngine, scanInTransaction, sessionFacts, type ScanReport, type ScanOptions } from './run.ts';
export { renderJson, renderSarif, renderTable } from './report.ts';
export { scanCommand } from './command.ts';
export { scanOnStart } from './gate.ts';
export { LINTS, type LintName } from './registry.ts';
export type { Finding, Level, ScanConfig } from './types.ts';
