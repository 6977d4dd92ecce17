export function formatDateTime(value: string | null | undefined): string {
  if (!value) return '—';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toLocaleString();
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toLocaleDateString();
}

/** Dollars; cents are shown only when there are any ($612,500 but $612,500.50). */
export function formatMoney(value: number | string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  const n = typeof value === 'string' ? Number(value) : value;
  if (!Number.isFinite(n)) return String(value);
  const whole = Math.round(n * 100) % 100 === 0;
  return n.toLocaleString('en-US', {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: whole ? 0 : 2,
    maximumFractionDigits: whole ? 0 : 2,
  });
}

/**
 * A typed dollar amount ("$612,500", "612500.5", "612,500.50") in cents, or null when it
 * is not one. Integer arithmetic on the digits: no binary-float rounding of cents.
 */
export function parseMoneyToCents(text: string): number | null {
  const t = text.trim().replace(/^\$/, '').replace(/,/g, '').trim();
  if (t === '') return 0;
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(t);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

export function centsToInput(cents: number | string | null | undefined): string {
  const n = Number(cents ?? 0);
  if (!Number.isFinite(n) || n === 0) return '';
  return n % 100 === 0 ? String(n / 100) : (n / 100).toFixed(2);
}

export function fullName(c: {
  first_name?: string | null;
  last_name?: string | null;
  email?: string | null;
  phone?: string | null;
}): string {
  const name = [c.first_name, c.last_name].filter(Boolean).join(' ').trim();
  return name || c.email || c.phone || 'Unnamed contact';
}
