// The demo workspace's content (P9): generated from a seeded PRNG, so every demo gets
// the same realistic mortgage book — and never a row copied from a real business.
// Times are offsets into the past (minutes before "now"); the writer anchors them.
// Phone numbers are in the 555-0100…0199 range reserved for fiction, emails are under
// example.com (RFC 2606): a demo can never text or mail a real person.

export type ContactStatus =
  'lead' | 'prospect' | 'application' | 'client' | 'past_client' | 'referral_partner' | 'do_not_contact';
export type ContactSource = 'web' | 'referral' | 'zillow' | 'sms' | 'import' | 'manual' | 'other';
export type DealStage = 'lead' | 'application' | 'processing' | 'underwriting' | 'clear_to_close' | 'funded' | 'lost';
export type LoanType = 'conventional' | 'fha' | 'va' | 'usda' | 'jumbo' | 'refinance' | 'heloc' | 'other';
export type ContactKind = 'person' | 'realtor' | 'partner';
export type LoanPurpose = 'purchase' | 'refinance' | 'cash_out';
export const MILESTONE_ORDER = [
  'application',
  'disclosures',
  'appraisal_ordered',
  'appraisal_received',
  'conditional_approval',
  'clear_to_close',
  'funded',
] as const;
export type MilestoneName = (typeof MILESTONE_ORDER)[number];
// How many milestones (in MILESTONE_ORDER) a loan in each stage has reached.
const MILESTONES_REACHED: Record<DealStage, number> = {
  lead: 0,
  application: 2,
  processing: 4,
  underwriting: 4,
  clear_to_close: 6,
  funded: 7,
  lost: 1,
};

export const DEAL_STAGES: DealStage[] = [
  'lead',
  'application',
  'processing',
  'underwriting',
  'clear_to_close',
  'funded',
  'lost',
];
export const DEMO_OUR_NUMBER = '+15125550100';

export type DemoCustomValue = string | number | boolean;
export interface DemoCustomField {
  entity: 'contact' | 'deal';
  key: string;
  label: string;
  type: 'text' | 'number' | 'money' | 'date' | 'choice' | 'checkbox';
  options: string[];
}

export interface DemoContact {
  first_name: string;
  last_name: string;
  phone: string;
  email: string;
  source: ContactSource;
  status: ContactStatus;
  kind: ContactKind;
  notes: string;
  age_min: number;
  custom: Record<string, DemoCustomValue>;
}
export interface DemoList {
  name: string;
  color: string;
  contacts: number[];
}
export interface DemoDeal {
  title: string;
  contact: number;
  co_borrower: number | null;
  partner: number | null;
  property_address: string;
  rate_percent: number;
  loan_purpose: LoanPurpose;
  /** days from today (negative: in the past) for each milestone reached */
  milestones: Partial<Record<MilestoneName, number>>;
  amount_cents: number;
  loan_type: LoanType;
  stage: DealStage;
  position: number;
  close_in_days: number;
  age_min: number;
  custom: Record<string, DemoCustomValue>;
}
export interface DemoMessage {
  direction: 'inbound' | 'outbound';
  body: string;
  age_min: number;
}
export interface DemoConversation {
  contact: number;
  messages: DemoMessage[];
  unread: number;
}
export interface DemoNote {
  contact?: number;
  deal?: number;
  body: string;
  age_min: number;
}
export interface DemoTask {
  title: string;
  contact: number;
  due_in_days: number;
  /** the due time on that day (hours after midnight UTC) */
  due_hour: number;
  /** a reminder this many minutes before the due time, or none */
  remind_before_min: number | null;
  done: boolean;
}
/**
 * Notifications the seeder writes itself. Overdue tasks notify from the writer (when they
 * were due) and inbound texts through the database's own trigger.
 */
export interface DemoNotification {
  kind: 'assignment';
  /** index into deals */
  subject: number;
  age_min: number;
  read: boolean;
}

export interface DemoData {
  businessName: string;
  contacts: DemoContact[];
  lists: DemoList[];
  deals: DemoDeal[];
  conversations: DemoConversation[];
  notes: DemoNote[];
  tasks: DemoTask[];
  customFields: DemoCustomField[];
  notifications: DemoNotification[];
}

export const DEMO_CUSTOM_FIELDS: DemoCustomField[] = [
  { entity: 'contact', key: 'credit_score', label: 'Credit score', type: 'number', options: [] },
  { entity: 'contact', key: 'pre_approved', label: 'Pre-approved', type: 'checkbox', options: [] },
  {
    entity: 'contact',
    key: 'best_time_to_call',
    label: 'Best time to call',
    type: 'choice',
    options: ['Morning', 'Afternoon', 'Evening'],
  },
  { entity: 'contact', key: 'pre_approval_expires', label: 'Pre-approval expires', type: 'date', options: [] },
  { entity: 'deal', key: 'investor', label: 'Investor', type: 'text', options: [] },
  { entity: 'deal', key: 'appraised_value', label: 'Appraised value', type: 'money', options: [] },
  { entity: 'deal', key: 'rate_lock_expires', label: 'Rate lock expires', type: 'date', options: [] },
];
const INVESTORS = ['Fannie Mae', 'Freddie Mac', 'Ginnie Mae', 'Portfolio', 'Wholesale partner'];

/** YYYY-MM-DD of today + days (UTC): the demo's dates move with the day it is created. */
const dayFromNow = (days: number, now: Date) => new Date(now.getTime() + days * 86_400_000).toISOString().slice(0, 10);

/** mulberry32: a tiny, well-distributed 32-bit PRNG; same seed, same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const FIRST = [
  'Olivia',
  'Liam',
  'Emma',
  'Noah',
  'Ava',
  'Elijah',
  'Sophia',
  'James',
  'Isabella',
  'Lucas',
  'Mia',
  'Mateo',
  'Amelia',
  'Ethan',
  'Harper',
  'Daniel',
  'Evelyn',
  'Henry',
  'Priya',
  'Wei',
  'Fatima',
  'Diego',
  'Aaliyah',
  'Kenji',
  'Grace',
  'Omar',
  'Chloe',
  'Marcus',
  'Layla',
  'Samuel',
];
const LAST = [
  'Johnson',
  'Nguyen',
  'Garcia',
  'Smith',
  'Patel',
  'Williams',
  'Brown',
  'Martinez',
  'Kim',
  'Davis',
  'Lopez',
  'Wilson',
  'Anderson',
  'Thomas',
  'Chen',
  'Robinson',
  'Walker',
  'Okafor',
  'Hughes',
  'Rivera',
  'Campbell',
  'Murphy',
  'Schmidt',
  'Haddad',
  'Foster',
];
const AREAS = ['212', '312', '415', '512', '617', '702', '713', '206'];
const STATUS_WEIGHTS: [ContactStatus, number][] = [
  ['lead', 30],
  ['prospect', 20],
  ['application', 12],
  ['client', 10],
  ['past_client', 15],
  ['referral_partner', 8],
  ['do_not_contact', 5],
];
const SOURCE_WEIGHTS: [ContactSource, number][] = [
  ['web', 25],
  ['referral', 25],
  ['zillow', 20],
  ['sms', 8],
  ['import', 10],
  ['manual', 10],
  ['other', 2],
];
const LOAN_WEIGHTS: [LoanType, number][] = [
  ['conventional', 40],
  ['fha', 15],
  ['va', 10],
  ['usda', 3],
  ['jumbo', 8],
  ['refinance', 15],
  ['heloc', 6],
  ['other', 3],
];
const CITIES: [string, string, string][] = [
  ['Austin', 'TX', '78704'],
  ['Seattle', 'WA', '98103'],
  ['Chicago', 'IL', '60614'],
  ['Boston', 'MA', '02130'],
  ['Las Vegas', 'NV', '89117'],
  ['Houston', 'TX', '77008'],
];
const STREETS = ['Maple Ave', 'Oak St', 'Cedar Ln', 'Lakeview Dr', 'Sunset Blvd', 'Pine Ct', 'Willow Way', 'Harbor Rd'];
const CONTACT_NOTES = [
  'Prefers text over calls.',
  'Pre-approved last spring; rates made them wait.',
  'Relocating for work in the fall.',
  'Asked about down-payment assistance programs.',
  'Self-employed: needs two years of returns.',
  'Referred by their real-estate agent.',
  '',
];
const NOTE_BODIES = [
  'Called: walked through the loan estimate line by line.',
  'Sent the document checklist (pay stubs, W-2s, bank statements).',
  'Appraisal came in at value.',
  'Discussed locking the rate for 45 days.',
  'Borrower asked about removing PMI later.',
  'Title company confirmed the closing date.',
  'Left a voicemail about the missing bank statement.',
  'Credit pulled: mid-score 742.',
];
const OUTBOUND = [
  'Hi {n}, this is your loan officer at Harbor Demo Lending. Do you have a few minutes today to go over your pre-approval?',
  'Thanks {n}! I just emailed the document checklist.',
  'Great news {n}: your appraisal came back at value.',
  'Reminder {n}: please upload your two most recent pay stubs.',
  'Rates moved down a bit today, {n}. Want me to run new numbers?',
  'You are clear to close, {n}! Congratulations.',
];
const INBOUND = [
  'Sure, after 3pm works.',
  'Got it, thanks!',
  'Uploaded the pay stubs just now.',
  'What would the payment be at 6.25%?',
  'Can we push closing to Friday?',
  'Thank you so much!',
  'Is a 5% down payment enough?',
];
const TASKS = [
  'Request updated bank statements',
  'Order appraisal',
  'Send closing disclosure',
  'Follow up on pre-approval',
  'Call the listing agent',
  'Verify employment',
  'Schedule the closing',
];

export function generateDemoData(seed = 20_240_601, now = new Date()): DemoData {
  const rnd = prng(seed);
  const int = (min: number, max: number) => min + Math.floor(rnd() * (max - min + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const weighted = <T>(xs: [T, number][]): T => {
    let r = rnd() * xs.reduce((s, [, w]) => s + w, 0);
    for (const [v, w] of xs) if ((r -= w) < 0) return v;
    return xs[xs.length - 1]![0];
  };

  const contacts: DemoContact[] = Array.from({ length: 200 }, (_, i) => {
    const first_name = pick(FIRST);
    const last_name = pick(LAST);
    return {
      first_name,
      last_name,
      // Unique per contact: area code by index, line 0100–0124 within it.
      phone: `+1${AREAS[i % AREAS.length]}555${String(100 + Math.floor(i / AREAS.length)).padStart(4, '0')}`,
      email: `${first_name}.${last_name}.${i + 1}@example.com`.toLowerCase(),
      source: weighted(SOURCE_WEIGHTS),
      status: weighted(STATUS_WEIGHTS),
      kind: 'person' as ContactKind,
      notes: pick(CONTACT_NOTES),
      age_min: int(60, 180 * 24 * 60),
      custom: {},
    };
  });
  // Referral partners by status are marked by kind too: every other one a realtor.
  contacts
    .filter((c) => c.status === 'referral_partner')
    .forEach((c, k) => (c.kind = k % 2 === 0 ? 'realtor' : 'partner'));
  const withStatus = (...s: ContactStatus[]) =>
    contacts.map((c, i) => (s.includes(c.status) ? i : -1)).filter((i) => i >= 0);

  const lists: DemoList[] = [
    { name: 'Past Clients', color: '#16a34a', contacts: withStatus('past_client', 'client') },
    { name: 'Hot Leads', color: '#dc2626', contacts: withStatus('lead', 'prospect').filter(() => rnd() < 0.4) },
    { name: 'Referral Partners', color: '#2563eb', contacts: withStatus('referral_partner') },
    { name: 'First-Time Buyers', color: '#d97706', contacts: contacts.map((_, i) => i).filter(() => rnd() < 0.15) },
  ];

  const borrowers = withStatus('prospect', 'application', 'client', 'past_client');
  const partners = contacts.map((c, i) => (c.kind === 'person' ? -1 : i)).filter((i) => i >= 0);
  // Loan-file details come from their own sequence, so adding them left the rest of the
  // generated book (contacts, threads, notes) exactly as it was.
  const lrnd = prng(seed ^ 0x10a4f11e);
  const lint = (min: number, max: number) => min + Math.floor(lrnd() * (max - min + 1));
  const positions = new Map<DealStage, number>();
  const deals: DemoDeal[] = Array.from({ length: 40 }, (_, i) => {
    // Every stage present: the first seven deals take one stage each.
    const stage = i < DEAL_STAGES.length ? DEAL_STAGES[i]! : pick(DEAL_STAGES);
    const contact = borrowers[i % borrowers.length]!;
    const loan_type = weighted(LOAN_WEIGHTS);
    const position = positions.get(stage) ?? 0;
    positions.set(stage, position + 1);
    const c = contacts[contact]!;
    const street = `${int(100, 9999)} ${pick(STREETS)}`;
    const [city, state, zip] = CITIES[lint(0, CITIES.length - 1)]!;
    const loan_purpose: LoanPurpose =
      loan_type === 'refinance'
        ? lrnd() < 0.5
          ? 'refinance'
          : 'cash_out'
        : loan_type === 'heloc'
          ? 'cash_out'
          : 'purchase';
    const amount_cents = (loan_type === 'jumbo' ? int(800, 2_000) : int(150, 750)) * 1_000 * 100 + lint(0, 3) * 50_000;
    const close_in_days = stage === 'funded' || stage === 'lost' ? -int(1, 120) : int(7, 90);
    // Milestones reached so far, each a few days after the one before, the last one no later than today.
    const reached = MILESTONES_REACHED[stage];
    const end = stage === 'funded' ? close_in_days : -lint(0, 5);
    const milestones: DemoDeal['milestones'] = {};
    let day = end - reached * 4;
    for (const m of MILESTONE_ORDER.slice(0, reached)) milestones[m] = day += lint(2, 6) - 1;
    if (reached === MILESTONE_ORDER.length) milestones.funded = end;
    const coCandidate = borrowers[(i * 13 + 5) % borrowers.length]!;
    return {
      title: `${c.last_name} — ${street}`,
      contact,
      co_borrower: lrnd() < 0.4 && coCandidate !== contact ? coCandidate : null,
      partner:
        loan_purpose === 'purchase' && partners.length > 0 && lrnd() < 0.75
          ? partners[lint(0, partners.length - 1)]!
          : null,
      property_address: `${street}, ${city}, ${state} ${zip}`,
      rate_percent: Math.round((5.5 + lrnd() * 2) * 8) / 8,
      loan_purpose,
      milestones,
      amount_cents,
      loan_type,
      stage,
      position,
      close_in_days,
      age_min: int(24 * 60, 120 * 24 * 60),
      custom: {},
    };
  });

  const texters = withStatus('lead', 'prospect', 'application', 'client').slice(0, 25);
  const conversations: DemoConversation[] = texters.map((contact) => {
    const n = contacts[contact]!.first_name;
    let age = int(60, 30 * 24 * 60);
    // Oldest first: each message a little after the previous one.
    const messages: DemoMessage[] = Array.from({ length: int(2, 8) }, (_, k): DemoMessage => {
      age = Math.max(1, age - int(5, 600));
      const outbound = k % 2 === 0;
      return {
        direction: outbound ? 'outbound' : 'inbound',
        body: pick(outbound ? OUTBOUND : INBOUND).replace('{n}', n),
        age_min: age,
      };
    });
    const last = messages[messages.length - 1]!;
    return { contact, messages, unread: last.direction === 'inbound' ? int(1, 2) : 0 };
  });

  const notes: DemoNote[] = Array.from({ length: 60 }, (_, i) =>
    i % 3 === 0
      ? { deal: i % deals.length, body: pick(NOTE_BODIES), age_min: int(60, 60 * 24 * 60) }
      : { contact: int(0, contacts.length - 1), body: pick(NOTE_BODIES), age_min: int(60, 60 * 24 * 60) },
  );

  const tasks: DemoTask[] = Array.from({ length: 15 }, (_, i) => ({
    title: pick(TASKS),
    contact: borrowers[(i * 7) % borrowers.length]!,
    due_in_days: int(-3, 14),
    due_hour: 0,
    remind_before_min: null,
    done: i % 5 === 0,
  }));

  // Workbench additions (custom fields, due times, notifications) draw from their own
  // sequence too, so the book above stays exactly as it was.
  const wrnd = prng(seed ^ 0x0b0e11);
  const wint = (min: number, max: number) => min + Math.floor(wrnd() * (max - min + 1));
  const wpick = <T>(xs: readonly T[]): T => xs[Math.floor(wrnd() * xs.length)]!;
  for (const c of contacts) {
    if (!['prospect', 'application', 'client', 'past_client'].includes(c.status)) continue;
    c.custom.credit_score = wint(580, 820);
    if (c.status !== 'past_client') {
      const approved = wrnd() < 0.6;
      c.custom.pre_approved = approved;
      if (approved) c.custom.pre_approval_expires = dayFromNow(wint(10, 90), now);
    }
    if (wrnd() < 0.7) c.custom.best_time_to_call = wpick(['Morning', 'Afternoon', 'Evening']);
  }
  for (const d of deals) {
    if (d.stage === 'lead') continue;
    d.custom.investor = wpick(INVESTORS);
    // An appraisal back: valued a little above the loan.
    if (d.milestones.appraisal_received !== undefined)
      d.custom.appraised_value = Math.round((d.amount_cents * (1.1 + wrnd() * 0.3)) / 100_000) * 100_000;
    if (d.stage !== 'funded' && d.stage !== 'lost' && d.stage !== 'application')
      d.custom.rate_lock_expires = dayFromNow(wint(5, 45), now);
  }
  for (const t of tasks) {
    t.due_hour = wint(9, 17) + 5; // 09:00–17:00 on the US East Coast, in UTC
    t.remind_before_min = t.due_in_days >= 0 && wrnd() < 0.5 ? wpick([15, 60, 24 * 60]) : null;
  }
  // Two deals were handed to the demo user (overdue open tasks notify from the writer,
  // at the time they were due).
  const notifications: DemoNotification[] = [
    { kind: 'assignment', subject: 1, age_min: wint(30, 240), read: false },
    { kind: 'assignment', subject: 2, age_min: wint(2 * 24 * 60, 5 * 24 * 60), read: true },
  ];

  return {
    businessName: 'Harbor Demo Lending',
    contacts,
    lists,
    deals,
    conversations,
    notes,
    tasks,
    customFields: DEMO_CUSTOM_FIELDS,
    notifications,
  };
}
