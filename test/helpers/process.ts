/** For tests that spawn the bridge as a real process. */

/**
 * The CLI as production runs it: `node <BRIDGE_CLI…> serve`. dist/ is current: test/global-setup.ts
 * builds it before any test when src/ is newer.
 */
export const BRIDGE_CLI: readonly string[] = ['dist/main.js'];

/**
 * Polls the bridge's /healthz on loopback until it answers 200. It gives up early when the process
 * exits (`exited` settles), and otherwise after `ms`: a hang detector, not a start-up time budget,
 * so it is sized for a machine that is several times oversubscribed.
 */
export async function waitHealthy(port: number, ms: number, exited?: Promise<unknown>): Promise<boolean> {
  let gone = false;
  void exited?.then(() => (gone = true));
  const t0 = Date.now();
  while (!gone && Date.now() - t0 < ms) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return true;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
