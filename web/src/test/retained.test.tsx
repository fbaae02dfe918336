import { render } from '@testing-library/react';
import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import { retainedIn } from './retained';

describe('retainedIn', () => {
  it('searches every hook of a component, however many it has', () => {
    function Many() {
      const values = Array.from(
        { length: 20 },
        (_, i) =>
          // The same twenty hooks on every render, in the same order.
          // eslint-disable-next-line react-hooks/rules-of-hooks
          useState(() => ({ sent: { variables: { input: { fields: { token: `canary-${i}-end` } } } } }))[0],
      );
      return <p>{values.length}</p>;
    }
    const { container } = render(<Many />);
    for (let i = 0; i < 20; i++) expect(retainedIn(container, `canary-${i}-end`)).not.toEqual([]);
    expect(retainedIn(container, 'canary-19-end')[0]).toMatch(/^Many\.hooks\[19\]\.memoizedState\./);
  });

  it('searches an object met deep in one place and near the top in another', () => {
    const kept = { a: { b: { secret: 'canary-shared' } } };
    let deep: object = kept;
    for (let i = 0; i < 10; i++) deep = { deeper: deep };
    function First() {
      const [nested] = useState(deep);
      return <p>{Object.keys(nested).length}</p>;
    }
    function Second() {
      const [held] = useState(kept);
      return <p>{Object.keys(held).length}</p>;
    }
    const { container } = render(
      <>
        <First />
        <Second />
      </>,
    );
    // First's state reaches it too deep to search it through; Second's holds it one level down.
    expect(retainedIn(container, 'canary-shared').filter((p) => p.startsWith('Second.'))).not.toEqual([]);
  });
});
