// The `capto` command: --help everywhere, `migrate` twice is a no-op, production refuses
// to start without a master key and a real certificate (and says what to set).
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlankDatabase } from './support/engine.ts';

const capto = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['bin/capto.js', ...args], {
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    timeout: 120_000,
  });

let blank: Awaited<ReturnType<typeof createBlankDatabase>>;
beforeAll(async () => {
  blank = await createBlankDatabase();
});
afterAll(async () => blank?.drop());

describe('capto CLI', () => {
  it('prints help for the program and every command', async () => {
    const top = capto(['--help']);
    expect(top.status).toBe(0);
    const names = [...top.stdout.matchAll(/^ {2}([a-z][a-z -]*?[a-z])\s{2,}/gm)].map((m) => m[1]!);
    expect(names).toEqual(expect.arrayContaining(['start', 'migrate', 'db setup']));
    // Every listed command has its own help text (checked in-process: one process per
    // command would cost a cold start each) …
    const { commands } = await import('../src/cli/commands.ts');
    expect(commands.map((c) => c.name).sort()).toEqual([...names].sort());
    for (const c of commands) expect(c.help, c.name).toContain(`capto ${c.name}`);
    // … and `--help` reaches it through the real binary.
    const r = capto(['db', 'setup', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('capto db setup');
  }, 240_000);

  it('an unknown command or option fails with exit code 2 and the help text', () => {
    expect(capto(['no-such-command']).status).toBe(2);
    expect(capto(['migrate', '--no-such-option']).status).toBe(2);
  });

  it('migrate applies the migrations once; the second run is a no-op', { timeout: 240_000 }, () => {
    const first = capto(['migrate'], blank.env);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applied: 0001_create_tenancy/);
    const second = capto(['migrate'], blank.env);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/up to date/);
  });

  it('production refuses to start without a master key and a real certificate, naming the settings', () => {
    const r = capto(['start'], { ...blank.env, CAPTO_ENV: 'production', PORT: '0' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('CAPTO_MASTER_KEY');
    expect(r.stderr).toContain('CAPTO_TLS_CERT');
  });
});
