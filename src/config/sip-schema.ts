import { z } from 'zod';
import { parseCidr } from '../sip/cidr.js';
import { parseSipUri } from '../sip/uri.js';
import { configEnvNameProblem } from './secret-names.js';

/**
 * The `sip:` section of the configuration file: the trunks that may send calls, and SIP-only
 * routing. Strict like every section: a misspelt key is an error, not a silently ignored one.
 * Secrets are not here: `digest.password_env` names the variable holding the trunk's password,
 * under the same naming rule as every other `*_env` field.
 */

const cidr = z.string().refine((s) => parseCidr(s) !== undefined, {
  message: 'must be an IPv4 or IPv6 address or CIDR, like 203.0.113.0/24 or 2001:db8::/32',
});

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
  .superRefine((name, ctx) => {
    const problem = configEnvNameProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const sipDigestSchema = z
  .object({
    username: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[^"\\\s]+$/, 'no quotes, backslashes or spaces'),
    password_env: envName,
  })
  .strict();

export const sipTrunkSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'letters, digits, _ and - only (max 64)'),
    /** the sources this trunk's INVITEs may come from; a source in none gets no answer */
    allow: z.array(cidr).min(1, 'a trunk needs at least one allowed source'),
    digest: sipDigestSchema.optional(),
    /** where new requests for this trunk go (number transfers, B2BUA legs) */
    outbound_proxy: z
      .string()
      .refine((s) => {
        const u = parseSipUri(s);
        return u !== undefined && (u.scheme === 'sip' || u.scheme === 'sips') && u.host.length > 0;
      }, 'must be a SIP URI like sip:proxy.example.com:5060')
      .optional(),
    /** refer: a REFER to the caller's side; invite: the bridge calls the target and relays media */
    transfer: z.enum(['refer', 'invite']).default('refer'),
  })
  .strict();

export const sipConfigSchema = z
  .object({
    trunks: z.array(sipTrunkSchema).default([]),
    /** agent for an E.164 number not in `numbers:`; unset → 404 (the file's default_agent does not apply) */
    default_agent: z
      .string()
      .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'an agent id')
      .optional(),
    /** how long the INVITE waits for the engine's hello before 480 */
    answer_wait_ms: z.number().int().min(500).max(30_000).default(5000),
    /** an answered call without caller RTP this long (and not on hold) is ended with BYE */
    media_timeout_s: z.number().int().min(1).max(600).default(30),
    /**
     * our Min-SE (RFC 4028): a Session-Expires below it gets 422. RFC 4028 sets 90 as the floor
     * peers may rely on; lower values exist for tests, which cannot wait minutes for an expiry.
     */
    min_session_expires_s: z.number().int().min(1).max(86_400).optional(),
    /**
     * new INVITEs per source address (a token bucket); over it they are dropped unanswered and
     * counted. Unset: DEFAULT_INVITE_LIMIT (src/sip/invite-limiter.ts), 10 a second, 40 at once.
     */
    invite_limit: z
      .object({
        per_second: z.number().min(0.1).max(10_000),
        burst: z.number().int().min(1).max(100_000),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    cfg.trunks.forEach((t, i) => {
      if (names.has(t.name)) {
        ctx.addIssue({ code: 'custom', path: ['trunks', i, 'name'], message: `duplicate trunk name "${t.name}"` });
      }
      names.add(t.name);
    });
  });

export type SipConfig = z.infer<typeof sipConfigSchema>;
export type SipTrunkConfig = z.infer<typeof sipTrunkSchema>;
