import { describe, expect, it } from 'vitest';
import { summary } from './credential-history-dialog';

describe('history summary', () => {
  it('shows what changed, not the bookkeeping', () => {
    expect(
      summary({
        old: { name: 'Work', status: 'active' },
        new: { name: 'Office', status: 'active' },
        context: { event_version: 1, sequence: 4, success: true, reason: 'moved desks' },
      }),
    ).toBe('name: Work → Office · reason: moved desks');
  });

  it('lists new facts of a registration', () => {
    expect(summary({ new: { name: 'Work', secret_version: 1 } })).toBe('name: Work · secret_version: 1');
  });
});
