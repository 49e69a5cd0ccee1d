/**
 * `--polling-load` (bench:load and bench:floor): the load side's event loop polls instead of
 * sleeping. A diagnostic, not the default.
 *
 * On loopback the kernel delivers each packet in the sender's own system call, up to waking the
 * receiving process. When the load side sleeps in epoll_wait, frames the bridge sends wake it —
 * on this VM an inter-processor interrupt, charged to the bridge's core. In production the
 * bridge's peers (Twilio's media servers, the Omni engine) are other machines and their wake-ups
 * are theirs, so this option shows how much of the bridge's figure is that cost (docs/capacity.md,
 * "Fourth round"). It stays off by default: the evidence is mixed (clear for the bridge, none
 * within the noise for the bare relay), and the default keeps every run comparable with the
 * earlier ones.
 *
 * The price: the load side's core reads ~100 % busy, so whether it keeps up is judged by its
 * event-loop lag, not its CPU.
 */
export function keepPolling(): () => void {
  let on = true;
  // A pending immediate makes libuv poll with a zero timeout: the loop spins, I/O still runs.
  const spin = (): void => {
    if (on) setImmediate(spin);
  };
  setImmediate(spin);
  return () => {
    on = false;
  };
}

/** `--polling-load` on the command line. */
export function pollingLoadRequested(argv: readonly string[] = process.argv): boolean {
  return argv.includes('--polling-load');
}
