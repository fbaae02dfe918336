import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ServiceIcon } from './service-icon';

describe('ServiceIcon', () => {
  it("draws the service's mark, bundled", () => {
    const { container } = render(<ServiceIcon icon="notion" name="Notion" />);
    const logo = container.querySelector('[data-logo="notion"]');
    expect(logo).not.toBeNull();
    expect(logo?.querySelector('path')?.getAttribute('d')?.length).toBeGreaterThan(20);
    expect(container.querySelector('img')).toBeNull();
  });

  it('falls back to a monogram for a service without a mark', () => {
    const { container } = render(<ServiceIcon icon="openai" name="OpenAI" />);
    expect(container.querySelector('svg')).toBeNull();
    expect(container.textContent).toBe('O');
  });
});
