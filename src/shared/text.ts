// Text the database cannot store (docs/SECURITY.md "Hostile text"): PostgreSQL refuses
// U+0000 in text values (22021 / 22P05), and a lone UTF-16 surrogate has no UTF-8 form
// at all (the driver would silently store U+FFFD instead). Both are refused at the
// edge for every string a request carries; webhooks, whose senders retry on any
// error, strip them instead.

// With the u flag a paired surrogate is one code point, so \p{Cs} matches lone ones only.
const UNSTORABLE = /\u0000|\p{Cs}/u;
const UNSTORABLE_ALL = /\u0000|\p{Cs}/gu;

/** True when `s` holds only characters PostgreSQL can store as text. */
export function isStorableText(s: string): boolean {
  return !UNSTORABLE.test(s);
}

/** `s` with NUL and lone surrogates removed. */
export function toStorableText(s: string): string {
  return s.replace(UNSTORABLE_ALL, '');
}

/**
 * The path of the first unstorable string (value or object key) inside `value`, or
 * undefined when there is none. Walks plain JSON shapes only, bounded in depth.
 */
export function findUnstorableText(value: unknown, at = '', depth = 0): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : at || '(value)';
  if (depth > 64 || value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], `${at}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  // Streams (a CSV upload) and buffers are not text fields; their readers check them.
  if (ArrayBuffer.isView(value) || typeof (value as { pipe?: unknown }).pipe === 'function') return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (!isStorableText(k)) return `${at}${at ? '.' : ''}(a field name)`;
    const found = findUnstorableText(v, `${at}${at ? '.' : ''}${k}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * True when every percent-escape in a URL decodes to well-formed UTF-8. A lone
 * surrogate can only travel in a URL as such an invalid sequence (%ED%A0%80), and
 * decoders differ on what they make of it, so the edge refuses the URL instead.
 */
export function hasWellFormedEscapes(url: string): boolean {
  try {
    decodeURIComponent(url.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
    return true;
  } catch {
    return false;
  }
}
