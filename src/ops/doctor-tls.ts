// "A real certificate": the files parse, the key belongs to the
// certificate, it is not self-signed (browsers would warn, and HSTS then pins users
// to that warning for a year), and it does not expire within the renewal margin.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

const RENEW_MARGIN_DAYS = 14;

export interface CertificateCheck {
  ok: boolean;
  detail: string;
}

export function checkCertificate(certFile: string, keyFile: string, now = new Date()): CertificateCheck {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch (e) {
    return {
      ok: false,
      detail: `CAPTO_TLS_CERT ${certFile} is not a readable PEM certificate (${(e as NodeJS.ErrnoException).code ?? 'parse error'})`,
    };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile)))) {
      return { ok: false, detail: `CAPTO_TLS_KEY ${keyFile} is not the key of CAPTO_TLS_CERT` };
    }
  } catch (e) {
    return {
      ok: false,
      detail: `CAPTO_TLS_KEY ${keyFile} is not a readable PEM private key (${(e as NodeJS.ErrnoException).code ?? 'parse error'})`,
    };
  }
  if (cert.issuer === cert.subject && cert.checkIssued(cert)) {
    return {
      ok: false,
      detail: `${certFile} is self-signed: use a certificate from a public CA (e.g. Let's Encrypt) or terminate TLS at a proxy`,
    };
  }
  const expires = new Date(cert.validTo);
  const days = Math.floor((expires.getTime() - now.getTime()) / 86_400_000);
  if (days < 0) return { ok: false, detail: `${certFile} expired on ${expires.toISOString().slice(0, 10)}` };
  if (days < RENEW_MARGIN_DAYS)
    return {
      ok: false,
      detail: `${certFile} expires in ${days} day(s) (${expires.toISOString().slice(0, 10)}): renew it`,
    };
  return {
    ok: true,
    detail: `certificate for ${cert.subject.replace(/\n/g, ', ')} issued by ${cert.issuer.split('\n').find((l) => l.startsWith('CN=')) ?? 'a CA'}, valid ${days} more days`,
  };
}
