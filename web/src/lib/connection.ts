import { useEffect, useSyncExternalStore } from 'react';

/**
 * Whether the server answers, as the app last saw it. Any failed request to the server marks it
 * offline; while offline the app asks `/healthz` every few seconds, and the first answer marks it
 * online again and tells every page to refetch (so nobody has to reload). The live-update socket
 * reports its own state here too.
 */
export interface ConnectionState {
  server: 'online' | 'offline';
  live: 'connecting' | 'connected' | 'closed';
}

type Listener = () => void;

const PROBE_MS = 2_000;

let state: ConnectionState = { server: 'online', live: 'connecting' };
const listeners = new Set<Listener>();
const recoveryListeners = new Set<Listener>();
let probe: ReturnType<typeof setInterval> | null = null;

function set(next: Partial<ConnectionState>) {
  const merged = { ...state, ...next };
  if (merged.server === state.server && merged.live === state.live) return;
  state = merged;
  for (const l of listeners) l();
}

async function serverAnswers(): Promise<boolean> {
  try {
    const res = await fetch('/healthz', { cache: 'no-store', credentials: 'same-origin' });
    return res.ok;
  } catch {
    return false;
  }
}

export function markOnline() {
  if (probe) {
    clearInterval(probe);
    probe = null;
  }
  if (state.server === 'offline') {
    set({ server: 'online' });
    refetchPages();
  }
}

/**
 * Tells every page on screen to refetch from the network (`useOnRecovered`): what it shows may
 * have changed unseen, while the server was away or while live updates were not listened to.
 */
export function refetchPages() {
  for (const l of recoveryListeners) l();
}

export function markOffline() {
  set({ server: 'offline' });
  probe ??= setInterval(() => {
    void serverAnswers().then((ok) => ok && markOnline());
  }, PROBE_MS);
}

export function setLiveState(live: ConnectionState['live']) {
  set({ live });
}

/** Waits for the server to answer `/healthz`; true when it answers now. */
export async function checkServer(): Promise<boolean> {
  const ok = await serverAnswers();
  if (ok) markOnline();
  else markOffline();
  return ok;
}

/** A `fetch` that records whether the server could be reached. */
export const trackedFetch: typeof fetch = async (input, init) => {
  try {
    const res = await fetch(input, init);
    markOnline();
    return res;
  } catch (e) {
    markOffline();
    throw e;
  }
};

export function useConnection(): ConnectionState {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => state,
  );
}

/**
 * Calls `onRecovered` each time the server answers again after being unreachable, and each time
 * live updates resume after a gap (`refetchPages`).
 */
export function useOnRecovered(onRecovered: () => void) {
  useEffect(() => {
    recoveryListeners.add(onRecovered);
    return () => {
      recoveryListeners.delete(onRecovered);
    };
  }, [onRecovered]);
}

/** For tests: back to the initial state. */
export function resetConnectionForTests() {
  if (probe) clearInterval(probe);
  probe = null;
  state = { server: 'online', live: 'connecting' };
  recoveryListeners.clear();
}
