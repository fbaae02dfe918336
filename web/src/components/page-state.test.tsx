import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { ApiFailure } from '@/lib/errors';
import { RefreshFailed, SkeletonState } from './page-state';

describe('SkeletonState', () => {
  it('holds the layout with blocks and tells screen readers what loads, without a spinner', () => {
    const { container } = render(<SkeletonState label="Loading credentials…" stats={4} cards={6} />);
    const status = screen.getByRole('status');
    expect(status).toHaveTextContent('Loading credentials…');
    expect(status).toHaveAttribute('aria-busy', 'true');
    expect(container.querySelectorAll('.animate-pulse')).toHaveLength(10);
    expect(container.querySelector('svg')).toBeNull();
  });
});

describe('RefreshFailed', () => {
  const failure: ApiFailure = { code: 'UNAVAILABLE', message: 'The server cannot reach its database.' };

  it('says, above the last answer, why it may be out of date, and Try again refetches from the network', async () => {
    const refetch = vi.fn();
    const { rerender } = render(
      <RefreshFailed data={{}} failure={failure} fetching={false} refetch={refetch} />,
    );
    expect(screen.getByRole('alert')).toHaveTextContent(
      'Could not refresh: The server cannot reach its database. What you see is the last answer.',
    );
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(refetch).toHaveBeenCalledExactlyOnceWith({ requestPolicy: 'network-only' });

    rerender(<RefreshFailed data={{}} failure={failure} fetching refetch={refetch} />);
    expect(screen.getByRole('button', { name: 'Try again' })).toBeDisabled();
  });

  it('draws nothing with no answer yet, no failure, or a server out of reach', () => {
    const refetch = vi.fn();
    const { container } = render(
      <>
        <RefreshFailed data={undefined} failure={failure} fetching={false} refetch={refetch} />
        <RefreshFailed data={{}} failure={null} fetching={false} refetch={refetch} />
        <RefreshFailed
          data={{}}
          failure={{ code: 'NETWORK', message: 'Unreachable.' }}
          fetching={false}
          refetch={refetch}
        />
      </>,
    );
    expect(container).toBeEmptyDOMElement();
  });
});
