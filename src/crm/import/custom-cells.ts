// Custom-field cells of a CSV (docs/ARCHITECTURE.md §14): a cell read as a value of its
// field's type, and a stored value written back as a cell. Spreadsheet spellings are
// accepted on the way in ("$612,500.00", "3/4/2026", "Yes"), but what is stored is
// exactly what the contact form would store: coerceCustomValue has the last word, and
// its sentences ("Credit tier must be one of "A", "B"") are what the error report says.
import { AppError } from '../../shared/errors.ts';
import { coerceCustomValue, type CustomField, type CustomValue } from '../custom-fields.ts';

export type FieldDef = Pick<CustomField, 'key' | 'label' | 'type' | 'options'>;
export type CustomCell = { ok: true; value: CustomValue } | { ok: false; message: string };

const TRUE = new Set(['yes', 'y', 'true', 't', '1', 'x', 'checked', 'on']);
const FALSE = new Set(['no', 'n', 'false', 'f', '0', 'unchecked', 'off']);

/** "612,500", "$612,500.5", "-12.25" → whole cents, computed in integers (no float rounding). */
function dollarsToCents(raw: string): number | undefined {
  const m = /^(-)?\$?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$/.exec(raw.replace(/\s+/g, ''));
  if (!m) return undefined;
  const cents = Number(m[2]!.replace(/,/g, '')) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return Number.isSafeInteger(cents) ? (m[1] ? -cents : cents) : undefined;
}

/** ISO dates as they are; US sheets write M/D/YYYY. */
function isoDate(raw: string): string {
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(raw);
  if (us) return `${us[3]}-${us[1]!.padStart(2, '0')}-${us[2]!.padStart(2, '0')}`;
  const slashed = /^(\d{4})\/(\d{1,2})\/(\d{1,2})$/.exec(raw);
  if (slashed) return `${slashed[1]}-${slashed[2]!.padStart(2, '0')}-${slashed[3]!.padStart(2, '0')}`;
  return raw;
}

/** One non-empty cell for `field`. */
export function readCustomCell(field: FieldDef, raw: string): CustomCell {
  const text = raw.trim();
  let candidate: unknown = text;
  switch (field.type) {
    case 'number': {
      const plain = text.replace(/[\s,]/g, '');
      candidate = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(plain) ? Number(plain) : text;
      break;
    }
    case 'money':
      candidate = dollarsToCents(text) ?? text;
      break;
    case 'date':
      candidate = isoDate(text);
      break;
    case 'choice':
      // Options compare case-insensitively; the stored value is the option as defined.
      candidate = field.options.find((o) => o.toLowerCase() === text.toLowerCase()) ?? text;
      break;
    case 'checkbox': {
      const t = text.toLowerCase();
      candidate = TRUE.has(t) ? true : FALSE.has(t) ? false : text;
      break;
    }
    case 'text':
      break;
  }
  try {
    return { ok: true, value: coerceCustomValue(field, candidate) };
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    // Money: the sheet holds dollars, whatever the API's unit is.
    const message = field.type === 'money' ? `${field.label} must be an amount in dollars, like 612500.00` : e.message;
    return { ok: false, message };
  }
}

/** A stored value as a cell our own import reads back to the same value. */
export function writeCustomCell(field: FieldDef, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (field.type === 'money' && typeof value === 'number') {
    const abs = Math.abs(value);
    return `${value < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
  }
  if (field.type === 'checkbox' && typeof value === 'boolean') return value ? 'Yes' : 'No';
  return String(value);
}
