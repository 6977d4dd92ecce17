// CSV output for exports and error reports (RFC 4180 quoting), with protection
// against CSV/formula injection per the OWASP "CSV Injection" guidance: a cell that
// starts with = + - @ (or a tab or carriage return, which some spreadsheets skip
// before evaluating) is prefixed with a single quote so Excel, LibreOffice and Google
// Sheets show it as text instead of running it. Contact data is attacker-controlled
// (a web lead form, an inbound SMS, an imported file), so every cell goes through here.

const FORMULA_START = /^[=+\-@\t\r]/;

export function neutraliseFormula(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/**
 * The inverse for import: an exported cell '=… or '+1555… comes back as it was
 * stored, so an export re-imports without accumulating quotes.
 */
export function restoreEscapedFormula(value: string): string {
  return value.length > 1 && value[0] === "'" && FORMULA_START.test(value.slice(1)) ? value.slice(1) : value;
}

export function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : value instanceof Date ? value.toISOString() : String(value);
  const safe = neutraliseFormula(text);
  // Always quoted: a cell can never break out of its column or row, whatever it holds.
  return `"${safe.replace(/"/g, '""')}"`;
}

/** One CSV record with CRLF, as RFC 4180 and Excel expect. */
export function csvLine(cells: readonly unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** UTF-8 byte order mark: without it Excel opens UTF-8 CSV as Windows-1252 and mangles names. */
export const UTF8_BOM = '\uFEFF';
