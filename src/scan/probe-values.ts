// Values for the probe's generated rows: one per column type, shaped by the CHECK
// constraints we can read (IN-lists, regular expressions, lengths, lower bounds) so
// a table added tomorrow gets a valid row without anyone editing the probe.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Column, Relation } from './catalog.ts';

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Constraint texts that mention the column (table CHECKs by column number, domain CHECKs as VALUE). */
function checksOf(rel: Relation, col: Column): string[] {
  const own = rel.checks.filter((c) => c.cols.includes(col.num)).map((c) => c.def);
  const dom = col.domainChecks.map((d) => d.replace(/\bVALUE\b/g, col.name));
  return [...own, ...dom];
}

function ref(col: string): string {
  // The column as the deparser may print it: bare, quoted, or cast inside parentheses.
  return `(?<![\\w.]\\()(?<![\\w."])"?${esc(col)}"?\\)*(?:::[\\w. ]+\\)*)*`;
}

export function inList(defs: string[], col: string): string[] | undefined {
  for (const d of defs) {
    const m = new RegExp(`${ref(col)}\\s*=\\s*ANY\\s*\\(+ARRAY\\[([^\\]]*)\\]`).exec(d);
    if (m) return [...m[1]!.matchAll(/'((?:[^']|'')*)'/g)].map((x) => x[1]!.replace(/''/g, "'"));
    const eq = new RegExp(`${ref(col)}\\s*=\\s*'((?:[^']|'')*)'`).exec(d);
    if (eq) return [eq[1]!.replace(/''/g, "'")];
  }
  return undefined;
}

function patterns(defs: string[], col: string): string[] {
  const out: string[] = [];
  for (const d of defs) {
    for (const m of d.matchAll(new RegExp(`${ref(col)}\\s*~\\*?\\s*'((?:[^']|'')*)'`, 'g')))
      out.push(m[1]!.replace(/''/g, "'"));
  }
  return out;
}

function lengthBounds(defs: string[], col: string): { min: number; max: number } {
  let min = 0;
  let max = Infinity;
  const fn = `(?:length|char_length|octet_length|character_length)\\(\\(*"?${esc(col)}"?\\)*(?:::[\\w. ]+\\)*)*\\)`;
  for (const d of defs) {
    for (const m of d.matchAll(new RegExp(`${fn}\\s*(=|>=|>|<=|<)\\s*(\\d+)`, 'g'))) {
      const n = Number(m[2]);
      if (m[1] === '=') {
        min = n;
        max = n;
      } else if (m[1] === '>=') min = Math.max(min, n);
      else if (m[1] === '>') min = Math.max(min, n + 1);
      else if (m[1] === '<=') max = Math.min(max, n);
      else max = Math.min(max, n - 1);
    }
    const between = new RegExp(`${fn}\\s*>=\\s*(\\d+)\\)? AND \\(?${fn}\\s*<=\\s*(\\d+)`).exec(d);
    if (between) {
      min = Math.max(min, Number(between[1]));
      max = Math.min(max, Number(between[2]));
    }
  }
  return { min, max };
}

function lowerBound(defs: string[], col: string): number | undefined {
  for (const d of defs) {
    const m = new RegExp(`${ref(col)}\\s*(>=|>)\\s*\\(?(-?\\d+(?:\\.\\d+)?)`).exec(d);
    if (m) return Number(m[2]) + (m[1] === '>' ? 1 : 0);
  }
  return undefined;
}

const ALPHA = 'abcdefghijklmnopqrstuvwxyz0123456789';
const pick = (chars: string) => chars[randomBytes(1)[0]! % chars.length]!;

function expandClass(body: string): string {
  let out = '';
  for (let k = 0; k < body.length; k++) {
    let c = body[k]!;
    if (c === '\\') {
      const e = body[++k]!;
      out += e === 'd' ? '0123456789' : e === 'w' ? 'abcdefghijklmnopqrstuvwxyz' : e;
      continue;
    }
    if (body[k + 1] === '-' && k + 2 < body.length) {
      const end = body[k + 2]!;
      for (let x = c.charCodeAt(0); x <= end.charCodeAt(0); x++) out += String.fromCharCode(x);
      k += 2;
      continue;
    }
    out += c;
    c = '';
  }
  return out || 'a';
}

/** A string matching a simple anchored regular expression (classes, quantifiers, groups: first alternative). */
export function sampleRegex(re: string): string {
  let i = 0;
  const src = re.replace(/^\^/, '').replace(/\$$/, '');
  function atom(): string {
    const ch = src[i++]!;
    if (ch === '\\') {
      const e = src[i++]!;
      return (
        (
          { d: pick('0123456789'), w: pick('abcdefghijklmnopqrstuvwxyz'), s: ' ', D: 'a', W: '-', S: 'a' } as Record<
            string,
            string
          >
        )[e] ?? e
      );
    }
    if (ch === '[') {
      const neg = src[i] === '^';
      if (neg) i++;
      let body = '';
      while (i < src.length && src[i] !== ']') body += src[i++];
      i++;
      const chars = expandClass(body);
      return pick(
        neg
          ? ALPHA.split('')
              .filter((c) => !chars.includes(c))
              .join('') || 'q'
          : chars,
      );
    }
    if (ch === '(') {
      if (src.startsWith('?:', i)) i += 2;
      let depth = 1;
      let inner = '';
      while (i < src.length && depth > 0) {
        const c = src[i++]!;
        if (c === '\\') {
          inner += c + src[i++];
          continue;
        }
        if (c === '(') depth++;
        if (c === ')') depth--;
        if (depth > 0) inner += c;
      }
      let d = 0;
      let cut = inner.length;
      for (let k = 0; k < inner.length; k++) {
        if (inner[k] === '\\') k++;
        else if (inner[k] === '(') d++;
        else if (inner[k] === ')') d--;
        else if (inner[k] === '|' && d === 0) {
          cut = k;
          break;
        }
      }
      return sampleRegex(inner.slice(0, cut));
    }
    if (ch === '.') return pick('abcdefghijklmnopqrstuvwxyz');
    return ch;
  }
  let out = '';
  while (i < src.length) {
    if (src[i] === '|') break;
    // Each repetition re-draws the atom, so sampled values differ (unique constraints).
    const start = i;
    let a = atom();
    const end = i;
    const again = (n: number) => {
      for (let k = 0; k < n; k++) {
        i = start;
        a += atom();
      }
      i = after;
    };
    let after = end;
    const q = src[end];
    if (q === '?') {
      after = end + 1;
      a = '';
      i = after;
    } else if (q === '*' || q === '+') {
      after = end + 1;
      if (q === '*') a = '';
      again(q === '*' ? 3 : 5);
    } else if (q === '{') {
      const close = src.indexOf('}', end);
      const [lo, hi] = src.slice(end + 1, close).split(',');
      const n = Number(lo) || Math.min(Number(hi ?? 0) || 0, 3);
      after = close + 1;
      a = '';
      again(n);
    }
    out += a;
  }
  return out;
}

/** JSON meeting `jsonb_typeof(col) = 'array'` and `col ? 'key'` checks (keys get string values). */
function jsonFor(defs: string[], col: string): string {
  const c = esc(col);
  const all = defs.join(' ');
  if (new RegExp(`jsonb?_typeof\\(${c}\\) = 'array'`).test(all)) return '["probe"]';
  const keys = [...all.matchAll(new RegExp(`\\b${c} \\? '((?:[^']|'')*)'`, 'g'))].map((m) => m[1]!);
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k, 'probe'])));
}

function byName(name: string, tag: string): string {
  if (/email/.test(name)) return `probe.${tag}@example.test`;
  if (/phone|number|(^|_)(to|from)$/.test(name))
    return `+1555${String(parseInt(tag.slice(0, 6), 16) % 10_000_000).padStart(7, '0')}`;
  if (/url|uri|endpoint/.test(name)) return `https://probe.example.test/${tag}`;
  if (/(^|_)(sid)$/.test(name)) return `AC${tag.padEnd(32, '0').slice(0, 32)}`;
  if (/hash|digest/.test(name)) return randomBytes(32).toString('hex');
  return `probe ${tag}`;
}

export type Generated = { ok: true; text: string | null } | { ok: false; reason: string };

/** A text value (cast by the caller to the column type) for `col`; `variant` picks alternatives on retries. */
export function generateValue(rel: Relation, col: Column, variant: number): Generated {
  const defs = checksOf(rel, col);
  const tag = randomBytes(6).toString('hex');
  const choices = col.enumLabels.length ? col.enumLabels : inList(defs, col.name);
  if (choices?.length) return { ok: true, text: choices[variant % choices.length]! };
  switch (col.base) {
    case 'uuid':
      return { ok: true, text: randomUUID() };
    case 'bool':
      return { ok: true, text: variant % 2 ? 'true' : 'false' };
    case 'int2':
    case 'int4':
    case 'int8':
    case 'numeric':
    case 'float4':
    case 'float8':
    case 'money':
      return { ok: true, text: String(Math.max(lowerBound(defs, col.name) ?? 1, variant ? 0 : 1)) };
    case 'timestamptz':
    case 'timestamp':
    case 'date': {
      const later = /expire|until|end|due|deadline|valid_to|_after$/.test(col.name);
      return { ok: true, text: new Date(Date.now() + (later ? 86_400_000 : 0)).toISOString() };
    }
    case 'time':
    case 'timetz':
      return { ok: true, text: '12:00' };
    case 'interval':
      return { ok: true, text: '1 hour' };
    case 'json':
    case 'jsonb':
      return { ok: true, text: jsonFor(defs, col.name) };
    case 'inet':
    case 'cidr':
      return { ok: true, text: '127.0.0.1' };
    case 'bytea': {
      const { min, max } = lengthBounds(defs, col.name);
      const n = Number.isFinite(max) && max === min ? min : Math.max(min, Math.min(32, max));
      return { ok: true, text: `\\x${randomBytes(n).toString('hex')}` };
    }
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'citext':
    case 'name': {
      const pats = patterns(defs, col.name);
      let v = pats.length ? sampleRegex(pats[0]!) : byName(col.name, tag);
      if (pats.length && !pats.every((p) => safeTest(p, v))) v = byName(col.name, tag);
      const { min, max } = lengthBounds(defs, col.name);
      if (v.length < min) v = v.padEnd(min, 'x');
      if (v.length > max) v = v.slice(0, max);
      return { ok: true, text: v };
    }
  }
  if (col.category === 'A') return { ok: true, text: '{}' };
  return { ok: false, reason: `no generator for column ${col.name} of type ${col.type}` };
}

function safeTest(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return true;
  }
}
