import { z } from 'zod';

/**
 * The rules for HTTP headers a tool's configuration may set, shared by the configuration file's
 * schema (schema.ts) and the control plane's API (control-plane/tool-body.ts), so that a header
 * one accepts the other cannot refuse.
 */

/** RFC 9110 token: anything else could smuggle a second header or break the request line. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
/** No CR, LF or NUL in values (header injection). */
export const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]{0,4096}$/;
/** Headers the bridge sets itself; configuration must not override them. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'idempotency-key',
  'x-bridge-signature',
  'user-agent',
  'expect',
  'upgrade',
]);

export const headerName = z
  .string()
  .regex(HEADER_NAME, 'must be a valid HTTP header name')
  .refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), 'is set by the bridge and cannot be configured');

/** A configured header value: printable, no line breaks. */
export const headerValue = z.string().regex(HEADER_VALUE, 'must not contain control characters');
