// Row shapes as the CRM API returns them: derived from the generated OpenAPI types
// (web/src/api/schema.d.ts, `npm run gen:api`), so a server change shows up here as a type
// error. The status, source, kind, stage and loan-type lists are generated from the
// server's zod enums (web/src/api/enums.ts); labels stay here.
import type { ApiResponse } from '../api/typed.ts';
import {
  CONTACT_KINDS,
  CONTACT_SOURCES,
  CONTACT_STATUSES,
  DEAL_STAGES,
  LOAN_TYPES,
  type DealStage,
} from '../api/enums.ts';

export { CONTACT_KINDS, CONTACT_SOURCES, CONTACT_STATUSES, DEAL_STAGES, LOAN_TYPES, type DealStage };

type Item<T> = T extends { items: (infer I)[] } ? I : never;
/** Offered when creating a deal ('refinance' as a loan type predates loan_purpose; it is still shown). */
export const NEW_LOAN_TYPES = ['conventional', 'fha', 'va', 'usda', 'jumbo', 'heloc', 'other'] as const;
const LOAN_TYPE_LABELS: Record<string, string> = {
  conventional: 'Conventional',
  fha: 'FHA',
  va: 'VA',
  usda: 'USDA',
  jumbo: 'Jumbo',
  refinance: 'Refinance',
  heloc: 'HELOC',
  other: 'Other',
};
export const loanTypeLabel = (t: string | null | undefined) => (t ? (LOAN_TYPE_LABELS[t] ?? humanize(t)) : '—');
export const LOAN_PURPOSES = ['purchase', 'refinance', 'cash_out'] as const;
const PURPOSE_LABELS: Record<string, string> = {
  purchase: 'Purchase',
  refinance: 'Refinance',
  cash_out: 'Cash-out refinance',
};
export const loanPurposeLabel = (p: string | null | undefined) => (p ? (PURPOSE_LABELS[p] ?? humanize(p)) : '—');
export const MILESTONES = [
  'application',
  'disclosures',
  'appraisal_ordered',
  'appraisal_received',
  'conditional_approval',
  'clear_to_close',
  'funded',
] as const;
export type Milestone = (typeof MILESTONES)[number];
export const MILESTONE_LABELS: Record<Milestone, string> = {
  application: 'Application',
  disclosures: 'Disclosures sent',
  appraisal_ordered: 'Appraisal ordered',
  appraisal_received: 'Appraisal received',
  conditional_approval: 'Conditional approval',
  clear_to_close: 'Clear to close',
  funded: 'Funded',
};
const KIND_LABELS: Record<string, string> = {
  person: 'Borrower or lead',
  realtor: 'Realtor',
  partner: 'Referral partner',
};
export const contactKindLabel = (k: string | null | undefined) => (k ? (KIND_LABELS[k] ?? humanize(k)) : '—');
// "SMS", not "Sms": the sources whose name humanize() would misspell.
const SOURCE_LABELS: Record<string, string> = { sms: 'SMS', import: 'CSV import' };
export const contactSourceLabel = (s: string | null | undefined) => (s ? (SOURCE_LABELS[s] ?? humanize(s)) : '—');

export function humanize(value: string | null | undefined): string {
  if (!value) return '—';
  const s = value.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export type Contact = Item<ApiResponse<'/api/businesses/{bid}/contacts', 'get'>>;

export type List = Item<ApiResponse<'/api/businesses/{bid}/lists', 'get'>>;

export type Deal = Item<ApiResponse<'/api/businesses/{bid}/deals', 'get'>>;

export type StageChange = Item<ApiResponse<'/api/businesses/{bid}/deals/{id}/stage-changes', 'get'>>;

export type Note = Item<ApiResponse<'/api/businesses/{bid}/contacts/{id}/notes', 'get'>>;

export type Task = Item<ApiResponse<'/api/businesses/{bid}/tasks', 'get'>>;

export type TimelineEvent = Item<ApiResponse<'/api/businesses/{bid}/contacts/{id}/timeline', 'get'>>;

export type Conversation = Item<ApiResponse<'/api/businesses/{bid}/conversations', 'get'>>;

export type ContactDetailView = ApiResponse<'/api/businesses/{bid}/contacts/{id}', 'get'>;

export type Message = Item<ApiResponse<'/api/businesses/{bid}/conversations/{id}/messages', 'get'>>;

export interface Page<T> {
  items: T[];
  total: number | null;
  nextCursor: string | null;
}

/** List endpoints may answer a bare array or {items|data|<name>, total, next_cursor}. */
export function toPage<T>(raw: unknown, key?: string): Page<T> {
  if (Array.isArray(raw)) return { items: raw as T[], total: null, nextCursor: null };
  const r = (raw ?? {}) as Record<string, unknown>;
  const items = (r.items ?? r.data ?? (key ? r[key] : undefined) ?? r.results ?? []) as T[];
  const total = typeof r.total === 'number' ? r.total : null;
  const nextCursor = (r.next_cursor ?? r.nextCursor ?? null) as string | null;
  return { items: Array.isArray(items) ? items : [], total, nextCursor };
}

/** Follow next_cursor to the end (bounded): the kanban and the dashboard need every deal. */
export async function fetchAll<T>(first: string, load: (url: string) => Promise<unknown>, maxPages = 25): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < maxPages; i++) {
    const sep = first.includes('?') ? '&' : '?';
    const page: Page<T> = toPage<T>(await load(cursor ? `${first}${sep}cursor=${encodeURIComponent(cursor)}` : first));
    out.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return out;
}

export function dealAmount(d: Pick<Deal, 'amount_cents'>): number {
  const n = Number(d.amount_cents);
  return Number.isFinite(n) ? n / 100 : 0;
}
