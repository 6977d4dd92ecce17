// Reading policy expressions as pg_get_expr() prints them. We never parse SQL in
// general: we split the deparsed text at top-level AND/OR (outside parentheses and
// string literals) and judge each branch. PostgreSQL's deparser is regular enough:
// every sub-expression is parenthesised, keywords are upper-case, columns of the
// policy's own table are unqualified while columns inside sub-selects carry an alias.

/** Remove parentheses that wrap the whole expression. */
export function stripOuter(expr: string): string {
  let s = expr.trim();
  for (;;) {
    if (!s.startsWith('(') || !s.endsWith(')')) return s;
    let depth = 0;
    let inString = false;
    let wraps = true;
    for (let i = 0; i < s.length; i++) {
      const ch = s[i];
      if (ch === "'") inString = !inString;
      if (inString) continue;
      if (ch === '(') depth++;
      else if (ch === ')') {
        depth--;
        if (depth === 0 && i < s.length - 1) {
          wraps = false;
          break;
        }
      }
    }
    if (!wraps) return s;
    s = s.slice(1, -1).trim();
  }
}

/** Split at top-level ` OR ` / ` AND `; one element when there is none. */
export function splitTop(expr: string, op: 'OR' | 'AND'): string[] {
  const s = stripOuter(expr);
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  const token = ` ${op} `;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "'") inString = !inString;
    if (inString) continue;
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && s.startsWith(token, i)) {
      parts.push(s.slice(start, i));
      start = i + token.length;
      i += token.length - 1;
    }
  }
  parts.push(s.slice(start));
  return parts.map((p) => stripOuter(p));
}

/** An unqualified reference to the policy table's own column. */
export function mentionsOwnColumn(expr: string, column: string): boolean {
  return new RegExp(`(^|[^.\\w"])${column}\\b`).test(expr);
}

/**
 * True when every way through the expression pins `column` to the caller's
 * businesses: each OR branch has some AND term that compares the row's own tenant
 * column with a membership helper (or the memberships table).
 */
export function isScoped(
  expr: string | null,
  column: string,
  helpers: readonly string[],
  membershipTable: string,
): boolean {
  if (expr === null) return false;
  const ors = splitTop(expr, 'OR');
  if (ors.length > 1) return ors.every((e) => isScoped(e, column, helpers, membershipTable));
  const ands = splitTop(expr, 'AND');
  if (ands.length > 1) return ands.some((e) => isScoped(e, column, helpers, membershipTable));
  const atom = ands[0]!;
  // A sub-select on memberships counts only when it is pinned to the caller.
  const usesHelper =
    helpers.some((h) => atom.includes(`${h}(`)) || (atom.includes(membershipTable) && /\bapp\.uid\(\)/.test(atom));
  return usesHelper && mentionsOwnColumn(atom, column);
}

const TRIVIAL_TRUE = /^(true|1 = 1|NOT false)$/i;

export function isAlwaysTrue(expr: string | null): boolean {
  if (expr === null) return false;
  const ors = splitTop(expr, 'OR');
  return ors.some((e) => TRIVIAL_TRUE.test(stripOuter(e)));
}

const CLAIM_SOURCE = /(app\.uid\(|current_setting\(|request\.jwt|app\.member_business_ids\(|auth\.uid\()/;

/** The expression split into its AND/OR leaves. */
export function atoms(expr: string): string[] {
  const ors = splitTop(expr, 'OR');
  if (ors.length > 1) return ors.flatMap(atoms);
  const ands = splitTop(expr, 'AND');
  return ands.length > 1 ? ands.flatMap(atoms) : ands;
}

/** A leaf that is true when the claims are missing: `app.uid() IS NULL`, `coalesce(app.uid(), …)`. */
export function hasNullClaimsDisjunct(expr: string | null): boolean {
  if (expr === null) return false;
  return atoms(expr).some((a) => CLAIM_SOURCE.test(a) && (/\bIS NULL\b/.test(a) || /COALESCE\(/i.test(a)));
}

/** Calls to `functions` not wrapped in a sub-select (evaluated per row instead of once). */
export function perRowCalls(expr: string | null, functions: readonly string[]): string[] {
  if (expr === null) return [];
  const found: string[] = [];
  for (const fn of functions) {
    const re = new RegExp(`(^|[^.\\w])${fn.replace('.', '\\.')}\\(`, 'g');
    for (const m of expr.matchAll(re)) {
      const before = expr.slice(0, m.index + m[1]!.length).trimEnd();
      if (!/\bSELECT$/i.test(before)) found.push(fn);
    }
  }
  return [...new Set(found)];
}
