import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { markOffline, markOnline, resetConnectionForTests, setLiveState } from '@/lib/connection';
import { ConnectionBanner, LiveIndicator } from './connection-banner';

afterEach(() => resetConnectionForTests());

describe('ConnectionBanner', () => {
  it('appears while the server is unreachable and leaves when it answers', () => {
    vi.spyOn(globalThis, 'fetch').mockRejectedValue(new TypeError('Failed to fetch'));
    render(<ConnectionBanner />);
    expect(screen.queryByTestId('offline-banner')).not.toBeInTheDocument();
    act(() => markOffline());
    expect(screen.getByTestId('offline-banner')).toHaveTextContent('Offline, retrying.');
    act(() => markOnline());
    expect(screen.queryByTestId('offline-banner')).not.toBeInTheDocument();
  });
});

describe('LiveIndicator', () => {
  it('says whether live updates arrive', () => {
    vi.spyOn(globalThis, 'fetch').mockRejectedValue(new TypeError('Failed to fetch'));
    render(<LiveIndicator />);
    act(() => setLiveState('connected'));
    expect(screen.getByTestId('live-indicator')).toHaveTextContent('Live');
    act(() => markOffline());
    expect(screen.getByTestId('live-indicator')).toHaveTextContent('Not live');
  });
});
