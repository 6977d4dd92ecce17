// `capto` — the command line. Every command calls the same services as the server.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/index.ts';
import { commands } from './commands.ts';
import { buildInfo } from '../shared/build-info.ts';

const HELP = `capto — the Capto CRM server and its maintenance commands

Usage: capto <command> [options]
       capto --version

Commands:
${commands.map((c) => `  ${c.name.padEnd(16)} ${c.summary}`).join('\n')}

Run "capto <command> --help" for a command's options.
Configuration comes from environment variables (see README.md).`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    const b = buildInfo();
    console.log(`capto ${b.version} (commit ${b.commit}, node ${b.node})`);
    return 0;
  }
  const words: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-')) break;
    words.push(a);
  }
  const command = commands
    .filter((c) => c.name.split(' ').every((w, i) => words[i] === w))
    .sort((a, b) => b.name.length - a.name.length)[0];
  if (!command) {
    const asked = argv[0] === undefined || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help';
    (asked ? console.log : console.error)(asked ? HELP : `unknown command "${words.join(' ')}"\n\n${HELP}`);
    return asked ? 0 : 2;
  }
  const rest = argv.slice(command.name.split(' ').length);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
      strict: true,
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${command.help}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(command.help);
    return 0;
  }
  const config = loadConfig();
  return command.run(parsed.values as Record<string, string | boolean | undefined>, config);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof ConfigError) console.error(e.message);
    else console.error(`capto: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
