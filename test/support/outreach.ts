// Fixtures for campaign tests: many contacts and a list in one statement each (written
// as capto_owner, like the other factories), and a poll for a campaign's end.
import { asOwner } from '../../src/db/engine.ts';
import type { Engine } from '../../src/db/index.ts';
import { request } from './http.ts';

let phoneBlock = 1_000_000 + Math.floor(Math.random() * 1000) * 1000;
const nextPhoneBlock = (n: number) => {
  const b = phoneBlock;
  phoneBlock += n + 1;
  return b;
};

/** `n` contacts with email camp-<tag>-<i>@example.com and phone +1555<7 digits>, all in a new list. */
export async function seedAudience(
  engine: Engine,
  businessId: string,
  createdBy: string,
  n: number,
  tag: string,
  phoneBase = nextPhoneBlock(n),
): Promise<{ listId: string; contactIds: string[] }> {
  return asOwner(engine, async (c) => {
    const list = await c.query<{ id: string }>(
      `INSERT INTO app.lists (business_id, name) VALUES ($1, $2) RETURNING id`,
      [businessId, `List ${tag}`],
    );
    const listId = list.rows[0]!.id;
    const contacts = await c.query<{ id: string }>(
      `INSERT INTO app.contacts (business_id, first_name, last_name, email, phone)
       SELECT $1, 'First' || i, 'Last' || i, 'camp-' || $2 || '-' || i || '@example.com', '+1555' || lpad(($3 + i)::text, 7, '0')
         FROM generate_series(1, $4) AS i
       RETURNING id`,
      [businessId, tag, phoneBase, n],
    );
    await c.query(
      `INSERT INTO app.list_members (business_id, list_id, contact_id, added_by) SELECT $1, $2, unnest($3::uuid[]), $4`,
      [businessId, listId, contacts.rows.map((r) => r.id), createdBy],
    );
    return { listId, contactIds: contacts.rows.map((r) => r.id) };
  });
}

/** Poll GET campaign until its status is one of `until` (or time out). */
export async function waitForCampaign(
  url: string,
  token: string,
  until: string[] = ['completed'],
  timeoutMs = 60_000,
): Promise<any> {
  const started = Date.now();
  for (;;) {
    const res = await request(url, { token });
    if (res.status !== 200) throw new Error(`campaign GET ${res.status} ${res.text}`);
    if (until.includes((res.json as { status: string }).status)) return res.json;
    if (Date.now() - started > timeoutMs)
      throw new Error(`campaign still ${(res.json as { status: string }).status}: ${res.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
