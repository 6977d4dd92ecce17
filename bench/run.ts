// `npm run bench`: runs every bench/*.bench.ts (or those named on the command line),
// prints one line per figure and appends the run to bench/results.json, with the time each
// bench file took and the load average before and after it (the machine may be shared).
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadNote, printFigure, saveFigures, type Figure } from './lib.ts';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const all: Figure[] = [];
const timings: { file: string; seconds: number; load: string }[] = [];
const started = Date.now();
const seconds = (since: number) => (Date.now() - since) / 1000;
let failures = 0;
for (const file of files) {
  console.log(`\n# ${file} (${loadNote()})`);
  const t0 = Date.now();
  try {
    const mod = (await import(new URL(file, import.meta.url).href)) as { default: () => Promise<Figure[]> };
    const figures = await mod.default();
    figures.forEach(printFigure);
    all.push(...figures);
  } catch (e) {
    failures++;
    console.error(`  ${file} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const load = loadNote();
  timings.push({ file, seconds: seconds(t0), load });
  console.log(`  ${file}: ${seconds(t0).toFixed(0)} s (${load})`);
}
const total = seconds(started);
console.log('\n# elapsed');
for (const t of timings) console.log(`  ${t.file.padEnd(32)} ${t.seconds.toFixed(0).padStart(5)} s  (${t.load})`);
console.log(`  ${'total'.padEnd(32)} ${total.toFixed(0).padStart(5)} s`);
saveFigures(all, { seconds: Math.round(total), files: timings.map((t) => ({ ...t, seconds: Math.round(t.seconds) })) });
console.log(
  `\n${all.filter((f) => f.met).length} of ${all.length} figures meet their goal; results appended to bench/results.json`,
);
process.exit(failures > 0 ? 1 : 0);
