// TLS material: the operator's certificate, or a self-signed one generated once into
// the data dir (development). Private keys are written with mode 0600.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.ts';
import type { TlsMaterial } from './app.ts';

export async function loadOrCreateTls(config: Pick<Config, 'tls' | 'dataDir'>): Promise<TlsMaterial | undefined> {
  if (!config.tls.enabled) return undefined;
  if (config.tls.certFile && config.tls.keyFile) {
    return { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) };
  }
  const dir = path.join(config.dataDir, 'tls');
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    return { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Loaded only to make the certificate, once per data dir (docs/ARCHITECTURE.md §5).
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { cert: pems.cert, key: pems.private };
}
