// The contact page's header data in one call: the contact, its lists, and the numbers
// it has opted out of texting from (STOP), so the UI can disable sending per number.
import type { Tx } from '../db/index.ts';
import { getContact, type Contact } from './contacts.ts';
import { isoSql } from './cursor.ts';
import { listsOfContact } from './lists.ts';

export interface ContactDetail extends Contact {
  lists: { id: string; name: string; color: string }[];
  sms_opt_outs: { our_number: string; keyword: string; opted_out_at: string }[];
}

export async function getContactDetail(tx: Tx, businessId: string, id: string): Promise<ContactDetail> {
  const contact = await getContact(tx, businessId, id);
  const lists = await listsOfContact(tx, businessId, id);
  const optOuts = await tx.query<ContactDetail['sms_opt_outs'][number]>(
    `SELECT o.our_number, o.keyword, ${isoSql('o.opted_out_at')} AS opted_out_at
       FROM app.sms_opt_outs o WHERE o.business_id = $1 AND o.contact_id = $2 ORDER BY o.opted_out_at`,
    [businessId, id],
    { prepared: true }, // the contact page
  );
  return { ...contact, lists, sms_opt_outs: optOuts.rows };
}
