// The merge context of one message: the contact, the business, the sending user and
// the contact's open deal (the most recently updated one not funded or lost). Read in
// whatever transaction the caller holds — the user's own (RLS) for previews, the
// service's for delivery — so the same code serves both.
import type { Tx } from '../db/index.ts';
import { notFound } from '../shared/errors.ts';
import type { MergeContext } from './merge.ts';

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });

interface Row {
  first_name: string;
  last_name: string;
  email: string | null;
  phone: string | null;
  status: string;
  b_name: string;
  nmls_number: string | null;
  postal_address: string | null;
  review_link: string | null;
  user_email: string | null;
  d_title: string | null;
  d_amount_cents: string | null;
  d_stage: string | null;
  d_loan_type: string | null;
  d_property_address: string | null;
  d_rate_percent: string | null;
  d_expected_close_date: string | null;
}

/**
 * The attached Business Profile location's review link (docs/ARCHITECTURE.md §26): Google's
 * `metadata.newReviewUri`, else the write-review URL built from its place id; null when no
 * location is attached. `$1` is the business.
 */
export const REVIEW_LINK_SQL = `(SELECT coalesce(l.review_uri,
      CASE WHEN l.place_id ~ '^[A-Za-z0-9_-]{1,300}$'
           THEN 'https://search.google.com/local/writereview?placeid=' || l.place_id END)
    FROM app.gbp_locations l WHERE l.business_id = $1)`;

export const CONTEXT_SQL = `
  SELECT c.first_name, c.last_name, c.email::text AS email, c.phone, c.status::text AS status,
         b.name AS b_name, b.nmls_number, b.postal_address, ${REVIEW_LINK_SQL} AS review_link,
         (SELECT u.email::text FROM auth.users u WHERE u.id = $3) AS user_email,
         d.title AS d_title, d.amount_cents::text AS d_amount_cents, d.stage::text AS d_stage,
         d.loan_type::text AS d_loan_type, nullif(d.property_address, '') AS d_property_address,
         d.rate_percent::text AS d_rate_percent, to_char(d.expected_close_date, 'YYYY-MM-DD') AS d_expected_close_date
    FROM app.contacts c
    JOIN app.businesses b ON b.id = c.business_id
    LEFT JOIN LATERAL (
      SELECT * FROM app.deals d
       WHERE d.business_id = c.business_id AND d.contact_id = c.id AND d.stage NOT IN ('funded', 'lost')
       ORDER BY d.updated_at DESC, d.id LIMIT 1
    ) d ON true
   WHERE c.business_id = $1 AND c.id = $2 AND c.deleted_at IS NULL`;

/** CONTEXT_SQL for many contacts at once ($2: uuid[]); each row also has `contact_id`. */
export const CONTEXT_BATCH_SQL = `
  SELECT x.contact_id, ctx.* FROM unnest($2::uuid[]) AS x(contact_id)
   CROSS JOIN LATERAL (${CONTEXT_SQL.replace('c.id = $2', 'c.id = x.contact_id')}) ctx`;

export function contextFromRow(r: Row): MergeContext {
  return {
    contact: {
      first_name: r.first_name || null,
      last_name: r.last_name || null,
      full_name: [r.first_name, r.last_name].filter(Boolean).join(' ') || null,
      email: r.email,
      phone: r.phone,
      status: r.status,
    },
    business: {
      name: r.b_name,
      nmls_number: r.nmls_number,
      postal_address: r.postal_address,
      review_link: r.review_link,
    },
    user: { email: r.user_email },
    deal: {
      title: r.d_title,
      amount: r.d_amount_cents === null ? null : money.format(Number(r.d_amount_cents) / 100),
      stage: r.d_stage,
      loan_type: r.d_loan_type,
      property_address: r.d_property_address,
      rate_percent: r.d_rate_percent === null ? null : Number(r.d_rate_percent),
      expected_close_date: r.d_expected_close_date,
    },
  };
}

/** The business's review link, or null when no location is attached (read as the caller). */
export async function businessReviewLink(tx: Tx, businessId: string): Promise<string | null> {
  const r = await tx.query<{ link: string | null }>(`SELECT ${REVIEW_LINK_SQL} AS link`, [businessId]);
  return r.rows[0]?.link ?? null;
}

export async function loadMergeContext(
  tx: Tx,
  businessId: string,
  contactId: string,
  userId: string | null,
): Promise<MergeContext> {
  const r = await tx.query<Row>(CONTEXT_SQL, [businessId, contactId, userId]);
  if (!r.rows[0]) throw notFound('contact');
  return contextFromRow(r.rows[0]);
}

/** A context with every field filled, to test-render a template at save time. */
export const SAMPLE_CONTEXT: MergeContext = {
  contact: {
    first_name: 'Sam',
    last_name: 'Sample',
    full_name: 'Sam Sample',
    email: 'sam@example.com',
    phone: '+15555550100',
    status: 'lead',
  },
  business: {
    name: 'Sample Lending',
    nmls_number: '123456',
    postal_address: '1 Main St, Springfield',
    review_link: 'https://search.google.com/local/writereview?placeid=ChIJSample',
  },
  user: { email: 'officer@example.com' },
  deal: {
    title: 'Sample purchase',
    amount: '$350,000',
    stage: 'application',
    loan_type: 'conventional',
    property_address: '2 Oak Ave',
    rate_percent: 6.5,
    expected_close_date: '2030-01-31',
  },
};
