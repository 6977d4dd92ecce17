// `capto keys rotate-jwt`: the command adds a signing key, the previous one stays
// published (retired, with a publish_until) and only the newest signs.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { commands } from '../src/cli/commands.ts';
import { asOwner } from '../src/db/engine.ts';
import { openEngine } from '../src/db/index.ts';
import { createBlankDatabase } from './support/engine.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let blank: Awaited<ReturnType<typeof createBlankDatabase>>;
let scratch: string;
beforeAll(async () => {
  blank = await createBlankDatabase();
  scratch = mkdtempSync(path.join(os.tmpdir(), 'capto-cli-'));
});
afterAll(async () => {
  await blank?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('capto keys rotate-jwt', () => {
  it('adds a new signing key and keeps the previous one published until its tokens expire', async () => {
    const config = loadConfig({ CAPTO_ENV: 'test', CAPTO_DATA_DIR: scratch, LOG_LEVEL: 'silent', ...blank.env });
    const run = (name: string) => commands.find((c) => c.name === name)!.run({}, config);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await run('migrate')).toBe(0);
      expect(await run('keys rotate-jwt')).toBe(0);
      expect(await run('keys rotate-jwt')).toBe(0);
      expect(log.mock.calls.flat().join('\n')).toMatch(/new signing key [A-Za-z0-9_-]{8,}/);
    } finally {
      log.mockRestore();
    }
    const engine = await openEngine(config, 'test');
    try {
      const keys = await asOwner(engine, (c) =>
        c.query<{ active: boolean; published: boolean }>(
          `SELECT retired_at IS NULL AS active, (retired_at IS NULL OR publish_until > now()) AS published FROM vault.jwt_signing_keys ORDER BY created_at`,
        ),
      );
      // The first run created the initial key and rotated it; the second rotated again.
      expect(keys.rows).toEqual([
        { active: false, published: true },
        { active: false, published: true },
        { active: true, published: true },
      ]);
    } finally {
      await engine.close();
    }
  }, 300_000);
});
