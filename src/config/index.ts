// The only reader of process.env (docs/ARCHITECTURE.md §2). Every setting is declared once here,
// validated with zod, and frozen. Settings flagged `sensitive` feed the log
// redaction list and are never printed by `capto doctor` or error messages.
import path from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no'])
  .transform((v) => ['1', 'true', 'on', 'yes'].includes(v));

const url = z.string().url();

const schema = z.object({
  CAPTO_ENV: z.enum(['development', 'production', 'test']).default('development'),
  CAPTO_DATA_DIR: z.string().min(1).default('./.capto'),
  DATABASE_URL: url.optional(),
  CAPTO_MIGRATION_URL: url.optional(),
  CAPTO_MASTER_KEY: z.string().optional(),
  CAPTO_PUBLIC_URL: url.optional(),
  HOST: z.string().optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(8443),
  CAPTO_TLS: z.enum(['on', 'off']).default('on'),
  CAPTO_TLS_CERT: z.string().optional(),
  CAPTO_TLS_KEY: z.string().optional(),
  CAPTO_TRUST_PROXY: bool.default(false),
  CAPTO_SECURITY_CONTACT: z.string().default('mailto:security@capto.example'),
  CAPTO_DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  CAPTO_JWT_TTL: z.coerce.number().int().min(1).max(60).default(10),
  CAPTO_PASSWORD_MIN_LENGTH: z.coerce.number().int().min(8).max(64).default(8),
  CAPTO_SESSION_MAX_AGE_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  CAPTO_SESSION_IDLE_DAYS: z.coerce.number().int().min(1).max(90).default(7),
  CAPTO_AUTH_RATE_WINDOW: z.coerce.number().int().min(1).max(86_400).default(900),
  CAPTO_AUTH_RATE_IP: z.coerce.number().int().min(1).max(1_000_000).default(30),
  CAPTO_AUTH_RATE_ACCOUNT: z.coerce.number().int().min(1).max(1_000_000).default(10),
  CAPTO_AUTH_RATE_MAIL: z.coerce.number().int().min(1).max(1_000_000).default(3),
  CAPTO_INVITE_RATE_WINDOW: z.coerce.number().int().min(1).max(86_400).default(3600),
  CAPTO_INVITE_RATE_INVITER: z.coerce.number().int().min(1).max(1_000_000).default(20),
  CAPTO_INVITE_RATE_BUSINESS: z.coerce.number().int().min(1).max(1_000_000).default(50),
  CAPTO_INVITE_RATE_RECIPIENT: z.coerce.number().int().min(1).max(1_000_000).default(3),
  CAPTO_METRICS_TOKEN: z.string().min(16).optional(),
  CAPTO_SCAN_ON_START: bool.default(true),
  CAPTO_BACKUP_DIR: z.string().min(1).optional(),
  GOOGLE_CLIENT_ID: z.string().optional(),
  GOOGLE_CLIENT_SECRET: z.string().optional(),
  GOOGLE_ISSUER: url.default('https://accounts.google.com'),
  GOOGLE_API_BASE: url.default('https://www.googleapis.com'),
  HIBP_RANGE_URL: url.default('https://api.pwnedpasswords.com/range/'),
  HIBP_FAILURE_MODE: z.enum(['offline-list', 'reject']).default('offline-list'),
  TWILIO_API_BASE: url.default('https://api.twilio.com'),
  CAPTO_ALLOW_PRIVATE_HOSTS: bool.default(false),
  CAPTO_CAMPAIGNS: bool.default(true),
  CAPTO_CAMPAIGN_THROTTLE: bool.default(true),
  CAPTO_SMS_QUIET_HOURS: z
    .string()
    .regex(/^(off|([01]?\d|2[0-3])-([01]?\d|2[0-4]))$/, 'a window such as 8-21 (hours), or off')
    // The hours texts may be sent, not the quiet ones: "21-8" would never open and hold every
    // text for ever, so a start at or after the end is refused (docs/ARCHITECTURE.md §21).
    .refine(
      (v) => v === 'off' || Number(v.split('-')[0]) < Number(v.split('-')[1]),
      'a start at or after the end never opens; it is the window texts MAY be sent, e.g. 8-21 (or off)',
    )
    .default('8-21'),
  CAPTO_CAMPAIGN_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  CAPTO_CAMPAIGN_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(120),
  CAPTO_CAMPAIGN_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  OPENAI_BASE_URL: url.default('https://api.openai.com/v1'),
  CAPTO_AI_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  CAPTO_AI_RATE_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(10),
  REDIS_URL: url.optional(),
  SMTP_URL: z.string().optional(),
  SMTP_FROM: z.string().default('Capto <no-reply@capto.example>'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CAPTO_JOBS: z.enum(['on', 'off']).default('on'),
  CAPTO_JOBS_POLL_SECONDS: z.coerce.number().min(0.5).max(60).default(2),
  CAPTO_JOBS_SUPERVISE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  CAPTO_JOBS_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  CAPTO_OUTBOX_LEASE_SECONDS: z.coerce.number().int().min(2).max(600).default(30),
  CAPTO_OUTBOX_CAP: z.enum(['on', 'off']).default('on'),
});

/** Settings whose values must never reach a log line, a response or an error message. */
export const SENSITIVE_SETTINGS = [
  'DATABASE_URL',
  'CAPTO_MIGRATION_URL',
  'CAPTO_MASTER_KEY',
  'CAPTO_METRICS_TOKEN',
  'GOOGLE_CLIENT_SECRET',
  'REDIS_URL',
  'SMTP_URL',
] as const;

export type Env = z.infer<typeof schema>;

export interface Config {
  readonly env: Env['CAPTO_ENV'];
  readonly isProduction: boolean;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly migrationUrl: string | undefined;
  readonly masterKey: string | undefined;
  readonly publicUrl: string;
  readonly host: string;
  readonly port: number;
  readonly tls: { readonly enabled: boolean; readonly certFile?: string; readonly keyFile?: string };
  readonly trustProxy: boolean;
  readonly securityContact: string;
  readonly dbPoolSize: number;
  readonly jwtTtlMinutes: number;
  readonly passwordMinLength: number;
  readonly sessionMaxAgeDays: number;
  readonly sessionIdleDays: number;
  /** Auth endpoint limits: requests per window (seconds) per client IP and per account; account mails per address per hour. */
  readonly authRateLimit: {
    readonly windowSeconds: number;
    readonly perIp: number;
    readonly perAccount: number;
    readonly mailsPerHour: number;
  };
  /** Invitation mails per window (seconds) per inviter, per business and per invited address. */
  readonly inviteRateLimit: {
    readonly windowSeconds: number;
    readonly perInviter: number;
    readonly perBusiness: number;
    readonly perRecipient: number;
  };
  readonly metricsToken: string | undefined;
  readonly scanOnStart: boolean;
  /** Where `capto backup` writes when no --out is given; its presence is what `capto doctor` calls "backups configured". */
  readonly backupDir: string | undefined;
  /** `apiBase`: where Google REST APIs (Gmail: `/gmail/v1/…`) are called; operator-level only (test fakes). */
  readonly google: {
    readonly clientId?: string;
    readonly clientSecret?: string;
    readonly issuer: string;
    readonly apiBase: string;
  };
  readonly hibp: { readonly rangeUrl: string; readonly failureMode: 'offline-list' | 'reject' };
  readonly twilioApiBase: string;
  /** CAPTO_ALLOW_PRIVATE_HOSTS: tenant-entered hosts may resolve to loopback/private space (src/shared/outbound-host.ts). */
  readonly allowPrivateHosts: boolean;
  /** Campaign delivery (src/outreach/dispatcher.ts). */
  readonly campaigns: {
    /** Off: this node starts campaigns but does not drain them (CAPTO_CAMPAIGNS=off); 1:1 email is an outbox job. */
    readonly dispatch: boolean;
    readonly throttle: boolean;
    /** [start, end) hour of the SMS window in the business's time zone; null = no quiet hours. */
    readonly smsWindow: readonly [number, number] | null;
    readonly pollMs: number;
    readonly leaseSeconds: number;
    readonly concurrency: number;
  };
  /** AI: the `openai` provider's base (operator-level, for test fakes), the model call timeout and calls per user per minute. */
  readonly ai: { readonly openaiBaseUrl: string; readonly timeoutMs: number; readonly ratePerMinute: number };
  readonly redisUrl: string | undefined;
  readonly smtp: { readonly url?: string; readonly from: string };
  readonly logLevel: Env['LOG_LEVEL'];
  /** The job engine (docs/ARCHITECTURE.md §22). */
  readonly jobs: {
    /** Run workers and schedules in this process (off: the node only enqueues). */
    readonly enabled: boolean;
    readonly pollSeconds: number;
    /** How often expired (crashed) jobs are found and retried, and old ones deleted. */
    readonly superviseSeconds: number;
    /** Handlers per queue per node. */
    readonly concurrency: number;
    /** How long a delivery attempt owns an outbox message before it may be reconciled. */
    readonly outboxLeaseSeconds: number;
    /** Per-number throughput caps (off: benchmarks and tests against a fake provider). */
    readonly outboxCap: boolean;
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parse settings from an environment (process.env by default) into a frozen Config. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([k, v]) => k in schema.shape && v !== undefined && v !== ''),
  );
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    // Name the setting and the rule, never the value: it may be a secret.
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const tlsEnabled = e.CAPTO_TLS === 'on';
  const scheme = tlsEnabled ? 'https' : 'http';
  // Safe default: outside production nothing but this machine reaches a development
  // server unless HOST says otherwise; production keeps listening on every interface.
  const host = e.HOST ?? (e.CAPTO_ENV === 'production' ? '0.0.0.0' : '127.0.0.1');
  const shownHost = e.HOST === undefined || host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const config: Config = {
    env: e.CAPTO_ENV,
    isProduction: e.CAPTO_ENV === 'production',
    dataDir: path.resolve(e.CAPTO_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    migrationUrl: e.CAPTO_MIGRATION_URL ?? e.DATABASE_URL,
    masterKey: e.CAPTO_MASTER_KEY,
    publicUrl: (e.CAPTO_PUBLIC_URL ?? `${scheme}://${shownHost}:${e.PORT}`).replace(/\/+$/, ''),
    host,
    port: e.PORT,
    tls: { enabled: tlsEnabled, certFile: e.CAPTO_TLS_CERT, keyFile: e.CAPTO_TLS_KEY },
    trustProxy: e.CAPTO_TRUST_PROXY,
    securityContact: e.CAPTO_SECURITY_CONTACT,
    dbPoolSize: e.CAPTO_DB_POOL_SIZE,
    jwtTtlMinutes: e.CAPTO_JWT_TTL,
    passwordMinLength: e.CAPTO_PASSWORD_MIN_LENGTH,
    sessionMaxAgeDays: e.CAPTO_SESSION_MAX_AGE_DAYS,
    sessionIdleDays: e.CAPTO_SESSION_IDLE_DAYS,
    authRateLimit: {
      windowSeconds: e.CAPTO_AUTH_RATE_WINDOW,
      perIp: e.CAPTO_AUTH_RATE_IP,
      perAccount: e.CAPTO_AUTH_RATE_ACCOUNT,
      mailsPerHour: e.CAPTO_AUTH_RATE_MAIL,
    },
    inviteRateLimit: {
      windowSeconds: e.CAPTO_INVITE_RATE_WINDOW,
      perInviter: e.CAPTO_INVITE_RATE_INVITER,
      perBusiness: e.CAPTO_INVITE_RATE_BUSINESS,
      perRecipient: e.CAPTO_INVITE_RATE_RECIPIENT,
    },
    metricsToken: e.CAPTO_METRICS_TOKEN,
    scanOnStart: e.CAPTO_SCAN_ON_START,
    backupDir: e.CAPTO_BACKUP_DIR ? path.resolve(e.CAPTO_BACKUP_DIR) : undefined,
    google: {
      clientId: e.GOOGLE_CLIENT_ID,
      clientSecret: e.GOOGLE_CLIENT_SECRET,
      issuer: e.GOOGLE_ISSUER,
      apiBase: e.GOOGLE_API_BASE.replace(/\/+$/, ''),
    },
    hibp: { rangeUrl: e.HIBP_RANGE_URL, failureMode: e.HIBP_FAILURE_MODE },
    twilioApiBase: e.TWILIO_API_BASE.replace(/\/+$/, ''),
    allowPrivateHosts: e.CAPTO_ALLOW_PRIVATE_HOSTS,
    campaigns: {
      dispatch: e.CAPTO_CAMPAIGNS,
      throttle: e.CAPTO_CAMPAIGN_THROTTLE,
      smsWindow:
        e.CAPTO_SMS_QUIET_HOURS === 'off' ? null : (e.CAPTO_SMS_QUIET_HOURS.split('-').map(Number) as [number, number]),
      pollMs: e.CAPTO_CAMPAIGN_POLL_MS,
      leaseSeconds: e.CAPTO_CAMPAIGN_LEASE_SECONDS,
      concurrency: e.CAPTO_CAMPAIGN_CONCURRENCY,
    },
    ai: {
      openaiBaseUrl: e.OPENAI_BASE_URL.replace(/\/+$/, ''),
      timeoutMs: e.CAPTO_AI_TIMEOUT_MS,
      ratePerMinute: e.CAPTO_AI_RATE_PER_MINUTE,
    },
    redisUrl: e.REDIS_URL,
    smtp: { url: e.SMTP_URL, from: e.SMTP_FROM },
    logLevel: e.LOG_LEVEL,
    jobs: {
      enabled: e.CAPTO_JOBS === 'on',
      pollSeconds: e.CAPTO_JOBS_POLL_SECONDS,
      superviseSeconds: e.CAPTO_JOBS_SUPERVISE_SECONDS,
      concurrency: e.CAPTO_JOBS_CONCURRENCY,
      outboxLeaseSeconds: e.CAPTO_OUTBOX_LEASE_SECONDS,
      outboxCap: e.CAPTO_OUTBOX_CAP === 'on',
    },
  };
  return deepFreeze(config);
}

/**
 * What production refuses to start without. Returns human-readable
 * problems naming the setting to fix; an empty list means the config may start.
 */
export function productionProblems(config: Config): string[] {
  if (!config.isProduction) return [];
  const problems: string[] = [];
  if (!config.masterKey)
    problems.push('set CAPTO_MASTER_KEY (32 random bytes, base64) — production never generates one');
  if (config.tls.enabled && (!config.tls.certFile || !config.tls.keyFile)) {
    problems.push(
      'set CAPTO_TLS_CERT and CAPTO_TLS_KEY to a real certificate, or CAPTO_TLS=off behind a TLS-terminating proxy with CAPTO_TRUST_PROXY=on',
    );
  }
  if (!config.tls.enabled && !config.trustProxy) {
    problems.push('CAPTO_TLS=off is only allowed behind a TLS-terminating proxy: set CAPTO_TRUST_PROXY=on');
  }
  // The default (https://localhost:8443) is https but reaches no user: links in mail would be dead.
  if (!config.publicUrl.startsWith('https://') || /^https:\/\/(localhost|127\.|\[::1\])/i.test(config.publicUrl)) {
    problems.push('set CAPTO_PUBLIC_URL to the https:// address users reach');
  }
  if (!config.smtp.url)
    problems.push('set SMTP_URL: without it, verification and password-reset mail never leaves the server');
  // A superuser DATABASE_URL would work (the engine swaps to capto_app) but leaves the
  // superuser's credentials in every app process: production keeps them in the CLI only.
  if (config.databaseUrl && new URL(config.databaseUrl).username !== 'capto_app') {
    problems.push('DATABASE_URL must log in as capto_app; put the owner/admin login in CAPTO_MIGRATION_URL');
  }
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
