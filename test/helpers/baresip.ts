/** The baresip driver the SIP demo ships (src/sim/baresip.ts), for the integration tests. */
import { haveBaresip } from '../../src/sim/baresip.js';

export { Baresip, readDump, type BaresipEvent, type BaresipOptions } from '../../src/sim/baresip.js';
export const HAVE_BARESIP = haveBaresip();
