// Waivers come only from a reviewed file (scan-waivers.json at the repository root):
// each names the lint, the exact object and why it is accepted. A waived finding is
// still printed (marked waived); a waiver that matches nothing is itself reported,
// so stale exceptions do not pile up.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { LINTS, finding } from './registry.ts';
import type { Finding } from './types.ts';

export const DEFAULT_WAIVERS_FILE = fileURLToPath(new URL('../../scan-waivers.json', import.meta.url));

const waiverSchema = z.object({
  lint: z.string().refine((l) => l in LINTS, { message: 'unknown lint name' }),
  object: z.string().min(1),
  reason: z.string().min(20, 'a waiver needs a real reason (20+ characters)'),
  reviewed_by: z.string().min(1).optional(),
});
const fileSchema = z.object({ waivers: z.array(waiverSchema) }).strict();
export type Waiver = z.infer<typeof waiverSchema>;

export function loadWaivers(file = DEFAULT_WAIVERS_FILE): Waiver[] {
  if (!existsSync(file)) return [];
  const parsed = fileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success)
    throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data.waivers;
}

export function applyWaivers(findings: Finding[], waivers: Waiver[]): Finding[] {
  const used = new Set<Waiver>();
  const out = findings.map((f) => {
    const w = waivers.find((x) => x.lint === f.name && x.object === f.object);
    if (!w) return f;
    used.add(w);
    return { ...f, waived: { reason: w.reason } };
  });
  for (const w of waivers) {
    if (!used.has(w))
      out.push(finding('waiver_unused', `${w.lint} ${w.object}`, `no finding matched this waiver (${w.reason})`));
  }
  return out;
}
