/** For tests that spawn the bridge as a real process. */

/** Polls the bridge's /healthz on loopback until it answers 200, for at most `ms`. */
export async function waitHealthy(port: number, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return true;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
