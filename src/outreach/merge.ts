// Merge fields for SMS and email templates (docs/ARCHITECTURE.md "Templates"): LiquidJS
// in strict mode — strict variables, strict filters, own properties only, no file
// system (an empty in-memory template map; include/render/layout are removed), bounded
// parse/render time and memory. A template may only name the fields listed in
// MERGE_FIELDS; an unknown field or filter is refused when the template is saved
// (400 invalid_template), never rendered as a blank.
//
// Email bodies are Markdown. The plain-text part is the Liquid output as written; the
// HTML part renders the same template with every merged value Markdown-escaped, through
// markdown-it with raw HTML disabled — so neither the author nor a contact's data can
// put markup in front of a recipient; links are limited to http(s) and mailto.
//
// Both libraries load at the first template, not when the server starts (~3 MB that a
// server sending nothing does not keep; docs/ARCHITECTURE.md §5).
import type { Liquid, Template } from 'liquidjs';
import type MarkdownIt from 'markdown-it';
import { AppError } from '../shared/errors.ts';
import { lazyRequire, once } from '../shared/lazy.ts';

const liquidjs = lazyRequire<typeof import('liquidjs')>('liquidjs');
const markdownIt = lazyRequire<typeof MarkdownIt>('markdown-it');

/** Every field a template may use, by object. Values are strings, numbers or null. */
export const MERGE_FIELDS = {
  contact: ['first_name', 'last_name', 'full_name', 'email', 'phone', 'status'],
  business: ['name', 'nmls_number', 'postal_address', 'review_link'],
  user: ['email'],
  deal: ['title', 'amount', 'stage', 'loan_type', 'property_address', 'rate_percent', 'expected_close_date'],
} as const;

export type MergeObject = keyof typeof MERGE_FIELDS;
export type MergeContext = { [K in MergeObject]: Record<(typeof MERGE_FIELDS)[K][number], string | number | null> };

const LIMITS = { parseLimit: 100_000, renderLimit: 500, memoryLimit: 2_000_000 };

function engine(outputEscape?: (v: unknown) => string): Liquid {
  const liquid = new (liquidjs().Liquid)({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    lenientIf: true, // `{% if deal.title %}` and `| default:` on a null field do not throw
    templates: {}, // no file system: partials resolve against an empty map
    relativeReference: false,
    outputEscape,
    ...LIMITS,
  });
  for (const tag of ['include', 'render', 'layout', 'block']) delete (liquid.tags as Record<string, unknown>)[tag];
  return liquid;
}

const plain = once(() => engine());
// Backslash-escape Markdown punctuation and HTML-significant characters in merged values. A
// value that is exactly one https URL of plain URL characters (the review link, §26) is left as
// is: it cannot open markup (no brackets, parentheses, angle brackets, asterisks or backticks),
// and escaping it would break the link in the text part of a 1:1 or automated email.
const PLAIN_HTTPS_URL = /^https:\/\/[A-Za-z0-9\-._~/?#=&%:+,;@]{1,2000}$/;
const markdownEscape = (v: unknown): string =>
  typeof v === 'string' && PLAIN_HTTPS_URL.test(v)
    ? v
    : String(v ?? '').replace(/[\\`*_{}[\]()#+\-.!|<>&~]/g, (c) =>
        c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : `\\${c}`,
      );
const forMarkdown = once(() => engine(markdownEscape));

const md = once(() => {
  const m = new (markdownIt())({ html: false, linkify: true, breaks: true, typographer: false });
  const defaultValidateLink = m.validateLink.bind(m);
  m.validateLink = (url: string) => /^(https?:|mailto:)/i.test(url.trim()) && defaultValidateLink(url);
  return m;
});

function invalid(message: string, field?: string): AppError {
  return new AppError('invalid_template', message, field ? { details: { field } } : {});
}

/** Parse and check one template source; throws 400 invalid_template naming the problem. */
export function checkTemplate(source: string, field: string): Template[] {
  let parsed: Template[];
  try {
    parsed = plain().parse(source);
  } catch (e) {
    throw invalid(`${field}: ${(e as Error).message.split('\n')[0]!.slice(0, 300)}`, field);
  }
  let segments: Array<Array<string | number | unknown>>;
  try {
    segments = plain().globalVariableSegmentsSync(parsed, { partials: false });
  } catch (e) {
    throw invalid(`${field}: ${(e as Error).message.split('\n')[0]!.slice(0, 300)}`, field);
  }
  for (const seg of segments) {
    const [object, name, ...rest] = seg;
    const known =
      typeof object === 'string' && object in MERGE_FIELDS ? MERGE_FIELDS[object as MergeObject] : undefined;
    const path = seg.map(String).join('.');
    if (!known)
      throw invalid(
        `${field}: unknown merge field "${path}"; use one of ${Object.keys(MERGE_FIELDS).join(', ')} (for example contact.first_name)`,
        field,
      );
    if (typeof name !== 'string' || !(known as readonly string[]).includes(name) || rest.length > 0)
      throw invalid(`${field}: unknown merge field "${path}"; ${object} has ${known.join(', ')}`, field);
  }
  return parsed;
}

// A campaign renders one snapshot thousands of times: parse each source once per engine.
const parsedCache = new WeakMap<Liquid, Map<string, Template[]>>();
function parsed(liquid: Liquid, source: string): Template[] {
  let m = parsedCache.get(liquid);
  if (!m) parsedCache.set(liquid, (m = new Map()));
  let t = m.get(source);
  if (!t) {
    t = liquid.parse(source);
    if (m.size >= 200) m.delete(m.keys().next().value!);
    m.set(source, t);
  }
  return t;
}

/** Whether a template source names `business.review_link` (docs/ARCHITECTURE.md §26 "Review requests"). */
function namesReviewLink(liquid: Liquid, source: string): boolean {
  if (!source.includes('review_link')) return false;
  try {
    return liquid
      .globalVariableSegmentsSync(parsed(liquid, source), { partials: false })
      .some((seg) => seg[0] === 'business' && seg[1] === 'review_link');
  } catch {
    return true; // unparseable here means it cannot render either; refuse rather than guess
  }
}

/** Whether any part of a template (subject or body) uses the review link. */
export function usesReviewLink(t: { subject?: string | null; body: string }): boolean {
  return namesReviewLink(plain(), t.body) || (t.subject ? namesReviewLink(plain(), t.subject) : false);
}

/** The refusal of a template that needs the review link when no location is attached. */
export const locationMissing = () =>
  new AppError(
    'gbp_location_missing',
    'this template uses {{ business.review_link }}: attach a Google Business Profile location first',
  );

function renderWith(liquid: Liquid, source: string, ctx: MergeContext): string {
  // The review link is never rendered blank: no attached location → refused (gbp_location_missing).
  if (ctx.business.review_link === null && namesReviewLink(liquid, source)) throw locationMissing();
  try {
    return liquid.renderSync(parsed(liquid, source), ctx as unknown as Record<string, unknown>);
  } catch (e) {
    // Saved templates were checked; this is a limit (time/memory) or a field removed since.
    throw new AppError(
      'invalid_template',
      `the template could not be rendered: ${(e as Error).message.split('\n')[0]!.slice(0, 200)}`,
    );
  }
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export function renderEmail(t: { subject: string; body: string }, ctx: MergeContext): RenderedEmail {
  const subject = renderWith(plain(), t.subject, ctx)
    .replace(/[\r\n]+/g, ' ')
    .trim()
    .slice(0, 998);
  const text = renderWith(plain(), t.body, ctx);
  const html = md().render(renderWith(forMarkdown(), t.body, ctx));
  return { subject, text, html };
}

/**
 * An email template as a 1:1 email's Markdown body (src/outreach/contact-emails.ts): every merged
 * value Markdown-escaped, so the email driver's HTML part shows a contact's data as text.
 */
export function renderEmailMarkdown(
  t: { subject: string; body: string },
  ctx: MergeContext,
): { subject: string; markdown: string } {
  const { subject } = renderEmail({ subject: t.subject, body: '' }, ctx);
  return { subject, markdown: renderWith(forMarkdown(), t.body, ctx) };
}

export function renderSms(t: { body: string }, ctx: MergeContext): string {
  return renderWith(plain(), t.body, ctx);
}

/** Markdown (already free of merge fields) → safe HTML, for footers written by the server. */
export function markdownToHtml(markdown: string): string {
  return md().render(markdown);
}

export { markdownEscape };

// ---------------------------------------------------------------------------
// SMS encoding and segments (GSM 03.38 vs UCS-2)
// ---------------------------------------------------------------------------
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENDED = '^{}\\[~]|€\f';
const BASIC = new Set(GSM_BASIC);
const EXTENDED = new Set(GSM_EXTENDED);

export interface SmsSegments {
  encoding: 'GSM-7' | 'UCS-2';
  /** Septets (GSM-7) or UTF-16 code units (UCS-2) the message takes. */
  units: number;
  characters: number;
  segments: number;
}

export function smsSegments(text: string): SmsSegments {
  let septets = 0;
  let gsm = true;
  for (const ch of text) {
    if (BASIC.has(ch)) septets += 1;
    else if (EXTENDED.has(ch)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  const characters = [...text].length;
  if (gsm) {
    return { encoding: 'GSM-7', units: septets, characters, segments: septets <= 160 ? 1 : Math.ceil(septets / 153) };
  }
  const units = text.length; // UTF-16 code units; an astral character (emoji) takes two
  return { encoding: 'UCS-2', units, characters, segments: units <= 70 ? 1 : Math.ceil(units / 67) };
}
