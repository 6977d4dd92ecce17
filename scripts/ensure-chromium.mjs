// The browser tests drive Debian's Chromium at /usr/bin/chromium (never a downloaded
// browser build). `npm test` makes sure it is there before any test runs: on a fresh
// machine where it may (root, apt-get present) it installs the Debian package;
// otherwise it stops with ONE line saying what to install, instead of a stack of
// failing browser tests (docs/OPERATIONS.md "Tests on a fresh machine").
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';
export const INSTALL_HINT = `npm test needs Debian's Chromium at ${CHROMIUM} for the browser tests: run "sudo apt-get update && sudo apt-get install -y chromium" (or run only some test files: npm test -- test/<file>.test.ts)`;

/** Whether the test files named on the command line (none: the whole suite) include browser tests. */
export function needsBrowser(args) {
  const files = args.filter((a) => !a.startsWith('-') && /\.(test\.)?[cm]?[tj]s$|^test\//.test(a));
  return files.length === 0 || files.some((f) => /(^|\/)e2e(\/|$)/.test(f));
}

const defaults = {
  exists: () => existsSync(CHROMIUM),
  isRoot: () => typeof process.getuid === 'function' && process.getuid() === 0,
  hasApt: () => existsSync('/usr/bin/apt-get'),
  run: (cmd, args) =>
    spawnSync(cmd, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 15 * 60_000,
    }).status === 0,
  log: (line) => console.log(line),
  error: (line) => console.error(line),
};

/** True when Chromium is there (already, or installed now); false after printing one line. */
export function ensureChromium(deps = {}) {
  const d = { ...defaults, ...deps };
  if (d.exists()) return true;
  if (!d.isRoot() || !d.hasApt()) {
    d.error(INSTALL_HINT);
    return false;
  }
  d.log(`installing Debian's chromium for the browser tests (apt-get update && apt-get install -y chromium) …`);
  if (!d.run('apt-get', ['update', '-qq']) || !d.run('apt-get', ['install', '-y', '-qq', 'chromium']) || !d.exists()) {
    d.error(`could not install chromium with apt-get; ${INSTALL_HINT}`);
    return false;
  }
  return true;
}
