// Stable error codes in one place (docs/ARCHITECTURE.md §3). The HTTP status
// of each code is declared beside it; the server's one error handler maps an
// AppError to `{"error":{"code","message"}}` and never serialises the cause.

export const ERROR_STATUS = {
  // generic request problems
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  unauthorized: 401,
  invalid_token: 401,
  session_expired: 401,
  forbidden: 403,
  origin_not_allowed: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
  database_unavailable: 503,
  upstream_error: 502,
  // authentication
  invalid_credentials: 401,
  email_taken: 409,
  password_too_short: 400,
  password_too_long: 400,
  password_breached: 400,
  password_similar_to_email: 400,
  password_check_unavailable: 503,
  password_change_required: 403,
  refresh_token_invalid: 401,
  refresh_token_reused: 401,
  email_not_verified: 403,
  token_expired: 400,
  token_invalid: 400,
  oidc_failed: 400,
  google_not_configured: 501,
  // tenancy
  last_owner: 409,
  confirmation_mismatch: 400,
  invitation_invalid: 400,
  invitation_expired: 410,
  invitation_revoked: 410,
  invitation_accepted: 409,
  invitation_email_mismatch: 403,
  demo_restricted: 403,
  // crm
  invalid_phone: 400,
  invalid_email: 400,
  duplicate_contact: 409,
  invalid_csv: 400,
  import_too_large: 413,
  // integrations
  twilio_credentials_invalid: 400,
  twilio_unreachable: 502,
  twilio_error: 502,
  contact_opted_out: 409,
  // An outbox delivery that must run again later (never an HTTP answer: a job's retry).
  delivery_deferred: 503,
  no_twilio_config: 409,
  invalid_signature: 403,
  // outbound connections to tenant-entered hosts (src/shared/outbound-host.ts)
  invalid_host: 400,
  host_not_allowed: 400,
  host_unresolvable: 400,
  // email senders
  smtp_auth_failed: 400,
  smtp_connection_failed: 400,
  smtp_plaintext_refused: 400,
  password_required: 400,
  google_not_connected: 409,
  no_email_sender: 409,
  // AI assistance (src/ai): the business's provider, its limits, and the provider's failures (never a 500)
  ai_not_configured: 409,
  ai_disabled: 409,
  ai_budget_exhausted: 429,
  ai_key_invalid: 400,
  ai_key_required: 400,
  ai_provider_rejected_key: 502,
  ai_provider_rate_limited: 429,
  ai_provider_error: 502,
  ai_provider_unreachable: 502,
  ai_provider_timeout: 504,
  // outreach
  invalid_template: 400,
  invalid_transition: 409,
  campaign_not_draft: 409,
  postal_address_required: 409,
  unsubscribe_link_invalid: 404,
  email_suppressed: 409,
  // Google Business Profile (src/gbp)
  google_scope_missing: 409,
  // incremental consent answered by another Google account than the connected one
  google_account_mismatch: 409,
  google_reauth_required: 409,
  gbp_location_required: 409,
  gbp_post_not_editable: 409,
  gbp_location_missing: 409,
  review_recently_requested: 409,
  quiet_hours: 409,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra fields that are safe to show the client (e.g. the id of an existing duplicate). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = options.details;
  }
}

export const notFound = (what = 'resource') => new AppError('not_found', `${what} not found`);
export const forbidden = (message = 'you do not have permission to do that') => new AppError('forbidden', message);

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
