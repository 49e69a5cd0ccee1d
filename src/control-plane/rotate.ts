import { inTransaction } from './pool.js';
import type { ControlPlane } from './control-plane.js';

/**
 * `secrets rotate`: every sealed value not under SECRETS_KEY (so under SECRETS_KEY_PREVIOUS) is
 * opened and sealed again under SECRETS_KEY, in one transaction. After it, SECRETS_KEY_PREVIOUS
 * can be unset. Returns how many values were sealed again.
 */
const SEALED_COLUMNS = ['auth_secret', 'signing_secret', 'previous_signing_secret'] as const;

export async function rotateSecrets(cp: ControlPlane): Promise<number> {
  const box = cp.box;
  if (!box) throw new Error('SECRETS_KEY is not set: there is no key to rotate to');
  return inTransaction(cp.pool, async (c) => {
    const r = await c.query<Record<(typeof SEALED_COLUMNS)[number], string | null> & { id: string }>(
      `SELECT id, ${SEALED_COLUMNS.join(', ')} FROM tools FOR UPDATE`,
    );
    let n = 0;
    for (const row of r.rows) {
      for (const col of SEALED_COLUMNS) {
        const v = row[col];
        if (v === null || !box.isStale(v)) continue;
        const place = `tools.${col}:${row.id}`;
        await c.query(`UPDATE tools SET ${col} = $2 WHERE id = $1`, [row.id, box.seal(box.open(v, place), place)]);
        n++;
      }
    }
    return n;
  });
}
