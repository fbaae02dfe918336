/**
 * Tells this origin's other tabs that the session changed, and hears when one of them says so.
 * Every tab shares the one HttpOnly session cookie: after a sign-in or sign-out in one tab, the
 * others must drop what they show of the last person. The message carries nothing else — no
 * secret, no id, no name — and nothing is written to the browser's storage.
 */
const CHANNEL = 'credledger-session';
export const SESSION_CHANGED = 'session-changed';

export interface SessionChannel {
  /** Tells the other tabs; this tab's own listener does not hear it. */
  announce: () => void;
  close: () => void;
}

/**
 * Opens this tab's channel; `onChangedElsewhere` runs when another tab signed in or out. Where
 * the browser has no BroadcastChannel, nothing is told or heard (each tab still learns of an
 * ended session from its own next request).
 */
export function openSessionChannel(onChangedElsewhere: () => void): SessionChannel {
  if (typeof BroadcastChannel === 'undefined') return { announce: () => {}, close: () => {} };
  const channel = new BroadcastChannel(CHANNEL);
  channel.onmessage = (event: MessageEvent) => {
    if (event.data === SESSION_CHANGED) onChangedElsewhere();
  };
  return {
    announce: () => channel.postMessage(SESSION_CHANGED),
    close: () => channel.close(),
  };
}
