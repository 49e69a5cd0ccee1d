import type { SimCall } from './call.js';
import { speak } from './sounds.js';
import type { CallHandle } from './types.js';

/** The user's remote control of a simulated call: hang up, press keys, speak, listen. */
export function makeHandle(call: SimCall): CallHandle {
  return {
    callSid: call.callSid,
    done: call.done,
    timeline: call.timeline,
    hangup: () => {
      if (call.ended) return;
      call.note('caller', 'hangs up');
      call.end('caller');
    },
    sendDtmf: (digits: string) => {
      void call.track(
        (async () => {
          for (const d of digits) {
            if (call.ended) return;
            if (/^[0-9*#A-D]$/.test(d)) call.deliverDtmf(d);
            await call.clock.sleep(150);
          }
        })(),
      );
    },
    say: (text: string) => {
      void call.track(
        speak(text).then((pcm) => {
          if (call.ended) return;
          call.note('caller', `says "${text}"${pcm ? '' : ' (TTS failed: silence)'}`);
          if (pcm) call.callerAudio.push(pcm);
        }),
      );
    },
    play: (pcm8k: Int16Array) => {
      if (call.ended) return;
      call.note('caller', `plays ${Math.round(pcm8k.length / 8)} ms of audio`);
      call.callerAudio.push(pcm8k);
    },
    on: (event: string, cb: (arg: never) => void) => call.on(event, cb),
  };
}
