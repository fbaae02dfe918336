/** Whether an error is a lazily loaded chunk that failed to load (server gone or a new release). */
export function isChunkLoadError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /dynamically imported module|Importing a module script failed|error loading dynamically imported module|Unable to preload CSS/i.test(
    message,
  );
}

const RELOADED_KEY = 'credledger:chunk-reload';

/**
 * Reloads the page once to pick up a new release's chunks. The marker (a timestamp, nothing
 * secret) stops a loop: a second failure within a minute is shown instead of reloading again.
 */
export function reloadOnceForNewRelease(now = Date.now()): boolean {
  const last = Number(sessionStorage.getItem(RELOADED_KEY) ?? 0);
  if (now - last < 60_000) return false;
  sessionStorage.setItem(RELOADED_KEY, String(now));
  window.location.reload();
  return true;
}
