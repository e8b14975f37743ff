import type { FastifyRequest } from 'fastify';

function first(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(',')[0]?.trim() || undefined;
}

/**
 * The absolute base URL clients reach this server at, for `results_url`: the configured public URL, else derived
 * from the request, honouring `X-Forwarded-Proto` and `X-Forwarded-Host` set by a reverse proxy.
 */
export function baseUrlOf(request: FastifyRequest, publicUrl: string | null): string {
  if (publicUrl) return publicUrl;
  const proto = first(request.headers['x-forwarded-proto']) ?? request.protocol;
  const host = first(request.headers['x-forwarded-host']) ?? request.headers.host ?? 'localhost';
  const safeProto = proto === 'https' ? 'https' : 'http';
  // A Host header is client input: keep only characters a host[:port] can contain, so it cannot inject a path.
  const safeHost = host.replace(/[^A-Za-z0-9.\-:[\]]/g, '');
  return `${safeProto}://${safeHost}`;
}
