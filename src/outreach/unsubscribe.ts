// One-click unsubscribe tokens (RFC 8058; docs/ARCHITECTURE.md "Campaigns"): the token
// names one business, one contact, one channel and — since tokens carry it — a digest of
// the address the mail went to, and carries an HMAC-SHA256 (truncated to 128 bits) under
// a key derived from the master key — unguessable, unforgeable, and still valid after a
// master key rotation (the key version is in the token). Tokens without the digest, in
// mail sent before it, still verify.
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { MasterKey } from '../vault/master-key.ts';
import { markdownEscape, markdownToHtml } from './merge.ts';

export interface UnsubscribeClaim {
  businessId: string;
  contactId: string;
  channel: 'email' | 'sms';
  /** addressDigest() of the address that was mailed; absent in older tokens. */
  address?: Buffer;
}

/** 128 bits of SHA-256 of an address, case-folded: names it in a link without showing it. */
export const addressDigest = (address: string): Buffer =>
  createHash('sha256').update(address.trim().toLowerCase()).digest().subarray(0, 16);

const uuidBytes = (u: string) => Buffer.from(u.replace(/-/g, ''), 'hex');
const uuidOf = (b: Buffer) => {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export function createUnsubscribeTokens(master: MasterKey) {
  const keys = new Map<number, Buffer>();
  const keyFor = (version: number): Buffer | undefined => {
    let k = keys.get(version);
    if (!k) {
      const mk = version === master.current.version ? master.current : master.version(version);
      if (!mk) return undefined;
      k = Buffer.from(hkdfSync('sha256', mk.bytes, Buffer.alloc(0), 'capto.unsubscribe.v1', 32));
      keys.set(version, k);
    }
    return k;
  };
  const mac = (key: Buffer, payload: Buffer) => createHmac('sha256', key).update(payload).digest().subarray(0, 16);

  return {
    sign(c: UnsubscribeClaim): string {
      const payload = Buffer.concat([
        uuidBytes(c.businessId),
        uuidBytes(c.contactId),
        Buffer.from([c.channel === 'email' ? 1 : 2]),
        ...(c.address ? [c.address] : []),
      ]);
      const version = master.current.version;
      return `${payload.toString('base64url')}.${version}.${mac(keyFor(version)!, payload).toString('base64url')}`;
    },
    verify(token: string): UnsubscribeClaim | undefined {
      const m = /^([A-Za-z0-9_-]{44}|[A-Za-z0-9_-]{66})\.(\d{1,6})\.([A-Za-z0-9_-]{22})$/.exec(token);
      if (!m) return undefined;
      const payload = Buffer.from(m[1]!, 'base64url');
      const key = keyFor(Number(m[2]));
      if ((payload.length !== 33 && payload.length !== 49) || !key) return undefined;
      const given = Buffer.from(m[3]!, 'base64url');
      if (given.length !== 16 || !timingSafeEqual(given, mac(key, payload))) return undefined;
      const ch = payload[32];
      if (ch !== 1 && ch !== 2) return undefined;
      return {
        businessId: uuidOf(payload.subarray(0, 16)),
        contactId: uuidOf(payload.subarray(16, 32)),
        channel: ch === 1 ? 'email' : 'sms',
        ...(payload.length === 49 ? { address: Buffer.from(payload.subarray(33)) } : {}),
      };
    },
  };
}

export type UnsubscribeTokens = ReturnType<typeof createUnsubscribeTokens>;

/**
 * What every commercial email carries (campaigns, and automated email — docs/ARCHITECTURE.md
 * §21 "Email content", §25 `send_email`): a footer with the business name, its postal address
 * and the unsubscribe link, for both parts, and the one-click unsubscribe headers (RFC 8058).
 */
export function commercialParts(
  tokens: UnsubscribeTokens,
  publicUrl: string,
  m: { businessId: string; contactId: string; address: string; businessName: string; postalAddress: string },
): { footerText: string; footerHtml: string; headers: Record<string, string> } {
  const token = tokens.sign({
    businessId: m.businessId,
    contactId: m.contactId,
    channel: 'email',
    address: addressDigest(m.address),
  });
  const url = `${publicUrl}/u/${token}`;
  const html = markdownToHtml(
    `---\n\n${markdownEscape(m.businessName)}  \n${markdownEscape(m.postalAddress)}\n\n[Unsubscribe](${url})`,
  );
  return {
    footerText: `\n\n--\n${m.businessName}\n${m.postalAddress}\nUnsubscribe: ${url}\n`,
    footerHtml: `<div class="capto-footer">${html}</div>`,
    headers: { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  };
}
