import { afterEach, describe, expect, it, vi } from 'vitest';
import { AUDIT_ACTIONS, dayBoundary } from './actions';

// The domain's sources: each event family's `fn event_type` names what the ledger records.
const DOMAIN = import.meta.glob<string>('../../../../../domain/src/**/*.rs', {
  query: '?raw',
  import: 'default',
  eager: true,
});

/** Every `event_type` the domain writes: the string literals of each `fn event_type`. */
function ledgerEventTypes(): string[] {
  const names: string[] = [];
  for (const source of Object.values(DOMAIN)) {
    for (const [, body] of source.matchAll(/fn event_type\(&self\) -> String \{([\s\S]*?)\n {4}\}/g)) {
      for (const [, name] of body.matchAll(/"(\w+)"/g)) names.push(name);
    }
  }
  return names;
}

describe('AUDIT_ACTIONS', () => {
  it('offers every event type the ledger records, each once', () => {
    const recorded = ledgerEventTypes();
    // The four families: keyring, credential usage, user, MCP server.
    expect(recorded).toEqual(expect.arrayContaining(['CredentialRegistered', 'CredentialUsed']));
    expect(recorded).toEqual(expect.arrayContaining(['UserRegistered', 'McpServerRegistered']));
    expect([...AUDIT_ACTIONS].sort()).toEqual([...new Set(recorded)].sort());
    expect(new Set(AUDIT_ACTIONS).size).toBe(AUDIT_ACTIONS.length);
  });
});

/** `dayBoundary` in another time zone (the tests' own is Pacific/Kiritimati, UTC+14). */
function inZone(zone: string, day: string, end: boolean) {
  vi.stubEnv('TZ', zone);
  return dayBoundary(day, end);
}

describe('dayBoundary', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('starts a day at local midnight, in UTC', () => {
    expect(dayBoundary('2024-06-15', false)).toBe('2024-06-14T10:00:00.000Z');
    expect(inZone('UTC', '2024-06-15', false)).toBe('2024-06-15T00:00:00.000Z');
    expect(inZone('America/New_York', '2024-06-15', false)).toBe('2024-06-15T04:00:00.000Z');
    expect(inZone('America/New_York', '2024-01-15', false)).toBe('2024-01-15T05:00:00.000Z');
    expect(inZone('Asia/Kathmandu', '2024-06-15', false)).toBe('2024-06-14T18:15:00.000Z');
  });

  it('ends a day at its last microsecond, in UTC (the server keeps microseconds, bounds inclusive)', () => {
    expect(dayBoundary('2024-06-15', true)).toBe('2024-06-15T09:59:59.999999Z');
    expect(inZone('UTC', '2024-06-15', true)).toBe('2024-06-15T23:59:59.999999Z');
    expect(inZone('Asia/Kathmandu', '2024-06-15', true)).toBe('2024-06-15T18:14:59.999999Z');
  });

  it('follows a day that daylight saving time makes shorter or longer', () => {
    // New York springs forward on 10 March 2024 (23 hours) and falls back on 3 November (25).
    expect(inZone('America/New_York', '2024-03-10', false)).toBe('2024-03-10T05:00:00.000Z');
    expect(inZone('America/New_York', '2024-03-10', true)).toBe('2024-03-11T03:59:59.999999Z');
    expect(inZone('America/New_York', '2024-11-03', false)).toBe('2024-11-03T04:00:00.000Z');
    expect(inZone('America/New_York', '2024-11-03', true)).toBe('2024-11-04T04:59:59.999999Z');
    // São Paulo's clocks went from 00:00 to 01:00 on 4 November 2018: that day began at 01:00.
    expect(inZone('America/Sao_Paulo', '2018-11-04', false)).toBe('2018-11-04T03:00:00.000Z');
    expect(inZone('America/Sao_Paulo', '2018-11-03', true)).toBe('2018-11-04T02:59:59.999999Z');
  });

  it('answers null for what is not a day', () => {
    expect(dayBoundary('', false)).toBeNull();
    expect(dayBoundary('15/06/2024', true)).toBeNull();
    expect(dayBoundary('2024-6-15', false)).toBeNull();
    expect(dayBoundary('2024-02-30', false)).toBeNull();
    expect(dayBoundary('2023-02-29', true)).toBeNull();
    expect(dayBoundary('2024-13-01', false)).toBeNull();
    expect(dayBoundary('2024-06-00', true)).toBeNull();
  });

  it('keeps a year below 100 as written, and a leap day', () => {
    expect(inZone('UTC', '0024-06-15', false)).toBe('0024-06-15T00:00:00.000Z');
    expect(inZone('UTC', '0099-12-31', true)).toBe('0099-12-31T23:59:59.999999Z');
    expect(inZone('UTC', '2024-02-29', true)).toBe('2024-02-29T23:59:59.999999Z');
  });
});
