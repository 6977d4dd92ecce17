// `npm run bench`: runs every bench/*.bench.ts (or those named on the command line),
// prints one line per figure and appends the run to bench/results.json.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printFigure, saveFigures, type Figure } from './lib.ts';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const all: Figure[] = [];
let failures = 0;
for (const file of files) {
  console.log(`\n# ${file}`);
  try {
    const mod = (await import(new URL(file, import.meta.url).href)) as { default: () => Promise<Figure[]> };
    const figures = await mod.default();
    figures.forEach(printFigure);
    all.push(...figures);
  } catch (e) {
    failures++;
    console.error(`  ${file} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
saveFigures(all);
console.log(
  `\n${all.filter((f) => f.met).length} of ${all.length} figures meet their goal; results appended to bench/results.json`,
);
process.exit(failures > 0 ? 1 : 0);
