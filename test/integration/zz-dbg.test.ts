import { it } from 'vitest';
import { AGENT_NUMBER, CALLER_NUMBER, startControlStack, waitFor } from '../helpers/control.js';
it('dbg', async () => {
  const h = await startControlStack({
    steps: [
      { say: 'Transferring you now.' },
      { verb: 'transfer_to_human', args: { destination: 'billing' }, call_id: 'x1', await_result: true },
    ],
    human: { answer: 'answer', ringMs: 300, talkMs: 400 },
  });
  const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 10_000 });
  const result = await call.done;
  await waitFor(() => h.records.length === 1);
  console.log(JSON.stringify(h.records, null, 1));
  for (const l of h.logs.lines) { const o = JSON.parse(l); if (o.level >= 30) console.log(o.time % 100000, o.msg, JSON.stringify({...o, msg: undefined, time: undefined, pid: undefined, hostname: undefined})); }
  console.log(result.timeline.map((e) => `${e.atMs} ${e.who} ${e.what}`).join('\n'));
  await h.close();
});
