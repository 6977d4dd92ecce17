// `npm test` on a fresh machine (docs/OPERATIONS.md "Tests on a fresh machine"): the
// test command installs Debian's Chromium when it is missing and it may, and otherwise
// stops with one clear line — never a stack of failing browser tests.
import { describe, expect, it } from 'vitest';
// @ts-expect-error — a plain .mjs script without type declarations
import { ensureChromium, INSTALL_HINT, needsBrowser } from '../scripts/ensure-chromium.mjs';

type Deps = Record<string, unknown>;
function world(over: { exists?: boolean[]; root?: boolean; apt?: boolean; runOk?: boolean } = {}) {
  const existsAnswers = [...(over.exists ?? [false, true])];
  const calls: string[] = [];
  const out: string[] = [];
  const errors: string[] = [];
  const deps: Deps = {
    exists: () => existsAnswers.shift() ?? false,
    isRoot: () => over.root ?? true,
    hasApt: () => over.apt ?? true,
    run: (cmd: string, args: string[]) => {
      calls.push([cmd, ...args].join(' '));
      return over.runOk ?? true;
    },
    log: (l: string) => out.push(l),
    error: (l: string) => errors.push(l),
  };
  return { deps, calls, out, errors };
}

describe('ensureChromium', () => {
  it('does nothing when Chromium is there', () => {
    const w = world({ exists: [true] });
    expect(ensureChromium(w.deps)).toBe(true);
    expect(w.calls).toEqual([]);
    expect(w.errors).toEqual([]);
  });

  it('as root with apt: apt-get update, then apt-get install -y chromium, then goes on', () => {
    const w = world({ exists: [false, true] });
    expect(ensureChromium(w.deps)).toBe(true);
    expect(w.calls).toEqual(['apt-get update -qq', 'apt-get install -y -qq chromium']);
    expect(w.errors).toEqual([]);
  });

  it('without root (or apt): one line saying what to install, nothing run', () => {
    for (const w of [world({ root: false }), world({ apt: false })]) {
      expect(ensureChromium(w.deps)).toBe(false);
      expect(w.calls).toEqual([]);
      expect(w.errors).toEqual([INSTALL_HINT]);
      expect(w.errors[0]).toMatch(/apt-get install -y chromium/);
      expect(w.errors[0]).not.toContain('\n');
    }
  });

  it('when the install fails: one line, and the tests do not start', () => {
    const w = world({ runOk: false });
    expect(ensureChromium(w.deps)).toBe(false);
    expect(w.errors).toHaveLength(1);
    expect(w.errors[0]).toMatch(/could not install chromium.*apt-get install -y chromium/);
  });
});

describe('needsBrowser', () => {
  it('the whole suite and browser test files need Chromium; other files do not', () => {
    expect(needsBrowser([])).toBe(true);
    expect(needsBrowser(['test/e2e/public-pages.test.ts'])).toBe(true);
    expect(needsBrowser(['test/fuzz-api.test.ts'])).toBe(false);
    expect(needsBrowser(['test/fuzz-api.test.ts', '-t', 'hostile'])).toBe(false);
  });
});
