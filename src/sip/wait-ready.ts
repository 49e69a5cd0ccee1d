/** Whether the session became answerable within `ms`, or the caller cancelled first. */
export function waitReady(
  answerable: Promise<void>,
  ms: number,
  signal: AbortSignal,
): Promise<'ready' | 'timeout' | 'cancel'> {
  if (signal.aborted) return Promise.resolve('cancel');
  return new Promise((resolve) => {
    const done = (v: 'ready' | 'timeout' | 'cancel') => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(v);
    };
    const onAbort = () => done('cancel');
    const timer = setTimeout(() => done('timeout'), ms);
    signal.addEventListener('abort', onAbort);
    void answerable.then(() => done('ready'));
  });
}
