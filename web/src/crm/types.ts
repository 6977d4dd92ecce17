// Row shapes as the CRM API returns them (columns of migrations/0004_create_crm.sql).
export const CONTACT_STATUSES = [
  'lead',
  'prospect',
  'application',
  'client',
  'past_client',
  'referral_partner',
  'do_not_contact',
] as const;
export const CONTACT_SOURCES = ['web', 'referral', 'zillow', 'sms', 'import', 'manual', 'other'] as const;
export const DEAL_STAGES = [
  'lead',
  'application',
  'processing',
  'underwriting',
  'clear_to_close',
  'funded',
  'lost',
] as const;
export const LOAN_TYPES = ['conventional', 'fha', 'va', 'usda', 'jumbo', 'refinance', 'heloc', 'other'] as const;
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
export const CONTACT_KINDS = ['person', 'realtor', 'partner'] as const;
const KIND_LABELS: Record<string, string> = {
  person: 'Borrower or lead',
  realtor: 'Realtor',
  partner: 'Referral partner',
};
export const contactKindLabel = (k: string | null | undefined) => (k ? (KIND_LABELS[k] ?? humanize(k)) : '—');
export type DealStage = (typeof DEAL_STAGES)[number];

export function humanize(value: string | null | undefined): string {
  if (!value) return '—';
  const s = value.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export interface Contact {
  id: string;
  first_name: string;
  last_name: string;
  phone: string | null;
  email: string | null;
  source: string;
  status: string;
  kind?: string;
  notes: string;
  owner_id: string | null;
  created_at: string;
  updated_at: string;
  deleted_at?: string | null;
  opted_out?: boolean;
}

export interface List {
  id: string;
  name: string;
  color?: string;
  member_count?: number;
  created_at?: string;
}

export interface Deal {
  id: string;
  title: string;
  contact_id: string | null;
  contact_name?: string | null;
  co_borrower_id?: string | null;
  co_borrower_name?: string | null;
  partner_id?: string | null;
  partner_name?: string | null;
  amount_cents: number | string;
  loan_type: string;
  loan_purpose?: string | null;
  rate_percent?: number | null;
  property_address?: string;
  stage: DealStage;
  expected_close_date: string | null;
  milestones?: Record<Milestone, string | null>;
  position?: number;
  created_at?: string;
  updated_at?: string;
}

export interface StageChange {
  id: string;
  from_stage: DealStage | null;
  to_stage: DealStage;
  changed_by: string | null;
  changed_at: string;
}

export interface Note {
  id: string;
  body: string;
  author_id?: string | null;
  created_at: string;
}

export interface Task {
  id: string;
  title: string;
  details?: string;
  due_date: string | null;
  done: boolean;
  contact_id?: string | null;
  contact_name?: string | null;
  created_at?: string;
}

export interface TimelineEvent {
  id: string;
  kind: string;
  at: string;
  actor_id: string | null;
  data: Record<string, unknown>;
}

export interface Conversation {
  id: string;
  contact_id: string;
  contact_name: string;
  contact_phone: string | null;
  our_number: string;
  last_message_at: string | null;
  last_message_preview: string | null;
  unread_count: number;
  opted_out: boolean;
  /** AI intent label of the newest labelled inbound text */
  intent?: string | null;
}

export interface ContactDetailView extends Contact {
  lists: { id: string; name: string; color: string }[];
  sms_opt_outs: { our_number: string; keyword: string; opted_out_at: string }[];
}

export interface Message {
  id: string;
  direction: 'inbound' | 'outbound';
  body: string;
  status: string;
  error_code?: string | null;
  created_at: string;
  intent?: string | null;
}

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
