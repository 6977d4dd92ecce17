// The contact page's header data in one call: the contact, its lists, and the numbers
// it has opted out of texting from (STOP), so the UI can disable sending per number.
import type { Tx } from '../db/index.ts';
import { getContact, type Contact } from './contacts.ts';
import { iso } from './cursor.ts';
import { listsOfContact } from './lists.ts';

export interface ContactDetail extends Contact {
  lists: { id: string; name: string; color: string }[];
  sms_opt_outs: { our_number: string; keyword: string; opted_out_at: string }[];
}

export async function getContactDetail(tx: Tx, businessId: string, id: string): Promise<ContactDetail> {
  const contact = await getContact(tx, businessId, id);
  const lists = await listsOfContact(tx, businessId, id);
  const optOuts = await tx.query<{ our_number: string; keyword: string; opted_out_at: Date }>(
    'SELECT our_number, keyword, opted_out_at FROM app.sms_opt_outs WHERE business_id = $1 AND contact_id = $2 ORDER BY opted_out_at',
    [businessId, id],
    { prepared: true }, // the contact page
  );
  return { ...contact, lists, sms_opt_outs: optOuts.rows.map((o) => ({ ...o, opted_out_at: iso(o.opted_out_at)! })) };
}
