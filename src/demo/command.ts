// `capto demo purge`: delete expired demo workspaces and their users now (the server
// also does it hourly). Safe to run while servers are up: the same advisory lock
// makes concurrent purges skip.
import type { Command } from '../cli/command.ts';
import { openEngine } from '../db/index.ts';
import { createDatabase } from '../db/request.ts';
import { purgeExpiredDemos } from './purge.ts';

export const demoPurgeCommand: Command = {
  name: 'demo purge',
  summary: 'delete expired demo workspaces (older than 24 h) and their demo users',
  help: `capto demo purge — delete every demo business whose 24 hours are over (with all
of its rows) and the demo users left without a business. Real businesses and users
are never touched. Prints what was deleted; exit 0.`,
  options: {},
  async run(_values, config) {
    const engine = await openEngine(config, 'capto demo purge');
    try {
      const r = await purgeExpiredDemos(createDatabase(engine.pool));
      console.log(
        r.ran
          ? `purged ${r.businesses} demo business(es) and ${r.users} demo user(s)`
          : 'another purge is running; nothing done',
      );
      return 0;
    } finally {
      await engine.close();
    }
  },
};
