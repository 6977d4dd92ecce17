// What build is running, for `capto --version` and the capto_build_info metric
// (docs/OPERATIONS.md §2): the package version, and the commit when the install is a
// git checkout ("unknown" otherwise).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  commit: string;
  node: string;
}

let cached: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  if (cached) return cached;
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as {
    version: string;
  };
  cached = { version: pkg.version, commit: commit(), node: process.version };
  return cached;
}

function commit(): string {
  try {
    const out = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    }).trim();
    return /^[0-9a-f]{7,40}$/.test(out) ? out : 'unknown';
  } catch {
    return 'unknown';
  }
}
