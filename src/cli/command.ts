// One CLI command: a one-line summary, its --help text and a run function returning
// the exit code (-1: keep running, e.g. the server). Modules contribute commands by
// importing this type only; src/cli/commands.ts lists them.
import type { ParseArgsConfig } from 'node:util';
import type { Config } from '../config/index.ts';

export interface Command {
  name: string;
  summary: string;
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, config: Config): Promise<number>;
}
