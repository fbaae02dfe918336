import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resetConnectionForTests } from '@/lib/connection';
import { RouteErrorBoundary } from './route-error-boundary';

afterEach(() => {
  resetConnectionForTests();
  sessionStorage.clear();
});

let shouldThrow = true;
function Flaky() {
  if (shouldThrow) throw new Error('render failed');
  return <p>page content</p>;
}

function ChunkFails(): never {
  throw new TypeError('Failed to fetch dynamically imported module: /assets/audit-page-x.js');
}

describe('RouteErrorBoundary', () => {
  it('shows a message with a retry instead of a blank page, and retries', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    shouldThrow = true;
    render(
      <>
        <nav>shell</nav>
        <RouteErrorBoundary>
          <Flaky />
        </RouteErrorBoundary>
      </>,
    );
    expect(screen.getByText('shell')).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent('This page stopped working');
    shouldThrow = false;
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(screen.getByText('page content')).toBeInTheDocument();
  });

  it('says the server is unreachable when a page chunk fails and the server does not answer', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    vi.spyOn(globalThis, 'fetch').mockRejectedValue(new TypeError('Failed to fetch'));
    render(
      <RouteErrorBoundary>
        <ChunkFails />
      </RouteErrorBoundary>,
    );
    await waitFor(() => expect(screen.getByRole('alert')).toHaveTextContent('The server cannot be reached'));
  });

  it('clears the error when the location changes', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    shouldThrow = true;
    function Harness() {
      const [path, setPath] = useState('/audit');
      return (
        <>
          <button onClick={() => setPath('/credentials')}>go</button>
          <RouteErrorBoundary resetKey={path}>
            {path === '/audit' ? <Flaky /> : <p>other page</p>}
          </RouteErrorBoundary>
        </>
      );
    }
    render(<Harness />);
    expect(screen.getByRole('alert')).toBeInTheDocument();
    screen.getByRole('button', { name: 'go' }).click();
    return waitFor(() => expect(screen.getByText('other page')).toBeInTheDocument());
  });
});
