import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { AppError } from './errors';

/**
 * SSRF guard for URLs that customers give us (webhook subscriptions, CRM base URLs). Only public unicast
 * addresses are allowed: not loopback, private, link-local (cloud metadata lives there),
 * unique-local, carrier-grade NAT, multicast or reserved ranges.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  // ::ffff:10.0.0.1 is 10.0.0.1.
  return ipaddr.process(address).range() === 'unicast';
}

export class BlockedAddressError extends Error {
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, a private, loopback or link-local address`);
    this.name = 'BlockedAddressError';
  }
}

/** Resolves a host and refuses it when any of its addresses is not public. */
export async function assertPublicHost(host: string): Promise<void> {
  const bare = host.replace(/^\[|\]$/g, '');
  const addresses = net.isIP(bare) ? [bare] : (await dns.promises.lookup(bare, { all: true, verbatim: true })).map((a) => a.address);
  for (const address of addresses) if (!isPublicAddress(address)) throw new BlockedAddressError(host, address);
}

/**
 * A `lookup` for http(s) agents that checks the address actually connected to, so a DNS
 * answer that changes after the subscription was checked (rebinding) is still refused.
 * IP-literal URLs skip lookup; callers check those with assertPublicHost first.
 */
export const publicOnlyLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses as unknown as dns.LookupAddress[];
    const blocked = list.find((a) => !isPublicAddress(a.address));
    if (blocked) return callback(new BlockedAddressError(hostname, blocked.address), '', 0);
    if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
    callback(null, list[0].address, list[0].family);
  });
};

/**
 * A URL the service will call on a tenant's behalf, checked when it is given: http(s) only,
 * and unless private URLs are allowed, a host that resolves to public addresses only. The
 * same check runs again at connection time (publicOnlyLookup), against DNS rebinding.
 */
export async function assertAllowedUrl(url: string, opts: { allowPrivateUrls: boolean; path: string }): Promise<void> {
  const invalid = (message: string) =>
    new AppError('invalid_data', 'validation_failed', 'Request validation failed', [{ path: opts.path, message }]);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('must be an absolute URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalid('must be an http or https URL');
  if (parsed.username || parsed.password) throw invalid('must not carry credentials');
  if (opts.allowPrivateUrls) return;
  try {
    await assertPublicHost(parsed.hostname);
  } catch (err) {
    throw invalid(
      err instanceof BlockedAddressError
        ? `${err.message}; such URLs are refused (ALLOW_PRIVATE_URLS=true allows them)`
        : `cannot resolve ${parsed.hostname}`,
    );
  }
}
