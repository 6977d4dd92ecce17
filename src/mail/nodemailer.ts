// nodemailer, loaded at its first use: a server that sends no email (no SMTP_URL, no email
// sender in any business) does not keep it in memory (~3 MB; docs/ARCHITECTURE.md §5).
// It is CommonJS as well as ESM, so it loads synchronously here; every caller in src/
// goes through this function, so one copy is loaded.
import { createRequire } from 'node:module';
import type Nodemailer from 'nodemailer';

const require = createRequire(import.meta.url);
let loaded: typeof Nodemailer | undefined;

export function nodemailer(): typeof Nodemailer {
  return (loaded ??= require('nodemailer') as typeof Nodemailer);
}
