import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { SkeletonState } from './page-state';

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
