// Tenant-entered hosts (an SMTP relay, a webhook, a model endpoint) must not let a
// tenant point the server at its own network: loopback, private, link-local,
// unique-local, CGNAT, multicast, unspecified and reserved addresses are refused, and
// so are the IPv6 forms that embed an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo),
// unless the operator sets CAPTO_ALLOW_PRIVATE_HOSTS=on (tests, self-hosted relays).
// See docs/SECURITY.md "Outbound hosts".
//
// The check runs on the addresses a name RESOLVES to, never on the name: `localhost`,
// `127.1`, `0x7f000001` and a public name whose A record is 10.0.0.5 are all refused.
// Callers connect to the address returned here (or use `outboundLookup` as their
// socket's `lookup`), so a second DNS answer cannot swap in a private address between
// the check and the connection (DNS rebinding).
import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { AppError } from './errors.ts';

export interface OutboundHostOptions {
  /** The operator flag CAPTO_ALLOW_PRIVATE_HOSTS (config.allowPrivateHosts). */
  readonly allowPrivate: boolean;
  /** Resolver override for tests; defaults to the system resolver (getaddrinfo). */
  readonly lookup?: (host: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;
}

export interface ResolvedHost {
  /** The host as entered, normalised (lower case, IPv6 brackets removed). */
  readonly host: string;
  /** Every address it resolved to, all of them allowed; connect to `addresses[0]`. */
  readonly addresses: ReadonlyArray<{ readonly address: string; readonly family: 4 | 6 }>;
  /** True when the host resolved only to loopback/private space (allowed by the operator flag). */
  readonly private: boolean;
}

// A DNS name (labels of letters, digits, hyphens; optional trailing dot) or an IP literal.
const HOSTNAME =
  /^(?=.{1,253}\.?$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$/i;

/**
 * The ipaddr.js range of an address, with IPv4-mapped IPv6 (::ffff:a.b.c.d) first
 * turned into its IPv4 form so `::ffff:127.0.0.1` is `loopback`, not `ipv4Mapped`.
 * Public addresses are `unicast`.
 */
export function addressRange(address: string): string {
  const parsed = ipaddr.process(address.replace(/%.*$/, ''));
  return parsed.range();
}

/** True unless the address is ordinary public unicast. */
export function isNonPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address.replace(/%.*$/, ''))) return true;
  return addressRange(address) !== 'unicast';
}

function refused(host: string, reason: string): AppError {
  return new AppError(
    'host_not_allowed',
    `${host} ${reason}; the server only connects to public addresses (an operator may allow private relays with CAPTO_ALLOW_PRIVATE_HOSTS=on)`,
    { details: { host } },
  );
}

/** Normalise and syntax-check a host; throws 400 `invalid_host`. */
export function normaliseHost(input: string): string {
  let host = input.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.length === 0 || !(net.isIP(host) !== 0 || HOSTNAME.test(host))) {
    throw new AppError('invalid_host', 'host must be a DNS name or an IP address, without scheme, port or path');
  }
  return host.replace(/\.$/, '');
}

const systemLookup = async (host: string) => dns.promises.lookup(host, { all: true, verbatim: true });

/**
 * Resolve a tenant-entered host and refuse it (400 `host_not_allowed`) when any of
 * its addresses is not public, unless `allowPrivate`. A name that does not resolve
 * is 400 `host_unresolvable`.
 */
export async function resolveOutboundHost(input: string, options: OutboundHostOptions): Promise<ResolvedHost> {
  const host = normaliseHost(input);
  let found: ReadonlyArray<{ address: string; family: number }>;
  if (net.isIP(host)) {
    found = [{ address: host, family: net.isIP(host) }];
  } else {
    try {
      found = await (options.lookup ?? systemLookup)(host);
    } catch {
      throw new AppError('host_unresolvable', `${host} does not resolve to an address`, { details: { host } });
    }
    if (found.length === 0) {
      throw new AppError('host_unresolvable', `${host} does not resolve to an address`, { details: { host } });
    }
  }
  const nonPublic = found.filter((a) => isNonPublicAddress(a.address));
  if (nonPublic.length > 0 && !options.allowPrivate) {
    // Every address must be public: a name answering one public and one private
    // address would otherwise reach the private one on a later connection.
    throw refused(host, `resolves to a non-public address (${addressRange(nonPublic[0]!.address)})`);
  }
  return {
    host,
    addresses: found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })),
    private: nonPublic.length > 0,
  };
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/**
 * A `dns.lookup`-compatible function for `http.Agent({ lookup })`,
 * `net.connect({ lookup })` or undici's `connect.lookup` that applies the same rule
 * at connection time, so the address checked is the address connected to.
 */
export function outboundLookup(options: OutboundHostOptions) {
  return (hostname: string, opts: dns.LookupOptions | number | LookupCallback, cb?: LookupCallback): void => {
    const callback = (typeof opts === 'function' ? opts : cb) as LookupCallback;
    const all = typeof opts === 'object' && opts !== null && opts.all === true;
    resolveOutboundHost(hostname, options).then(
      (r) => {
        if (all)
          callback(
            null,
            r.addresses.map((a) => ({ address: a.address, family: a.family })),
          );
        else callback(null, r.addresses[0]!.address, r.addresses[0]!.family);
      },
      (e: unknown) => {
        const err = Object.assign(new Error((e as Error).message), {
          code: (e as AppError).code ?? 'EHOSTUNREACH',
        }) as NodeJS.ErrnoException;
        callback(err, '');
      },
    );
  };
}
