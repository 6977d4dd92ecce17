// nodemailer, loaded at its first use: a server that sends no email (no SMTP_URL, no email
// sender in any business) does not keep it in memory (~3 MB; docs/ARCHITECTURE.md §5).
// Every caller in src/ goes through this getter.
import type Nodemailer from 'nodemailer';
import { lazyRequire } from '../shared/lazy.ts';

export const nodemailer = lazyRequire<typeof Nodemailer>('nodemailer');
