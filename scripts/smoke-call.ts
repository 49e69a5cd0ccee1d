import { startStack } from '../src/sim/stack.js';
import { formatTimeline } from '../src/sim/twilio/index.js';
import { createLogger } from '../src/observability/logger.js';
const stack = await startStack({ logger: createLogger({ level: 'info' }) });
const call = stack.sim.placeCall({ to: '+15550001111', from: '+15557654321', maxDurationMs: 15000, caller: [ { afterAgentSilenceMs: 700, say: 'Hello there, how are you?' }, { afterAgentSilenceMs: 1500, dtmf: '5' }, { afterAgentSilenceMs: 1500, hangup: true } ] });
call.on('timeline', (e) => console.log(formatTimeline([e])));
const r = await call.done;
console.log('ended', r.endedBy, r.durationMs, 'violations', r.violations, 'engine violations', stack.engine.violations);
await stack.close();
