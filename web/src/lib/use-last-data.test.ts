import { renderHook } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { useLastData } from './use-last-data';

describe('useLastData', () => {
  it('keeps the last answer while a refetch has none', () => {
    const { result, rerender } = renderHook(({ data }: { data?: { n: number } }) => useLastData(data), {
      initialProps: { data: undefined as { n: number } | undefined },
    });
    expect(result.current).toBeUndefined();
    rerender({ data: { n: 1 } });
    expect(result.current).toEqual({ n: 1 });
    rerender({ data: undefined });
    expect(result.current).toEqual({ n: 1 });
    rerender({ data: { n: 2 } });
    expect(result.current).toEqual({ n: 2 });
  });

  it('keeps the last answer when a refetch failed as a whole (data: null)', () => {
    type Props = { data?: { n: number } | null; scope: string };
    const { result, rerender } = renderHook(({ data, scope }: Props) => useLastData(data, scope), {
      initialProps: { data: { n: 1 }, scope: 'page 1' } as Props,
    });
    rerender({ data: null, scope: 'page 1' });
    expect(result.current).toEqual({ n: 1 });
    rerender({ data: null, scope: 'page 1' });
    expect(result.current).toEqual({ n: 1 });
    // A new scope that fails so has nothing to show.
    rerender({ data: null, scope: 'page 2' });
    expect(result.current).toBeUndefined();
  });

  it('forgets the last answer when its scope changes (a new client after sign-out)', () => {
    const { result, rerender } = renderHook(
      ({ data, scope }: { data?: { n: number }; scope: object }) => useLastData(data, scope),
      { initialProps: { data: { n: 1 } as { n: number } | undefined, scope: {} as object } },
    );
    expect(result.current).toEqual({ n: 1 });
    rerender({ data: undefined, scope: {} });
    expect(result.current).toBeUndefined();
  });

  it('shows the old scope’s answer while the new one loads, but does not keep it for the new scope', () => {
    type Props = { data?: { n: number }; scope: string };
    const { result, rerender } = renderHook(({ data, scope }: Props) => useLastData(data, scope), {
      initialProps: { data: { n: 1 }, scope: 'page 1' } as Props,
    });
    const first = result.current;
    // urql gives the old answer while the new variables load…
    rerender({ data: first, scope: 'page 2' });
    expect(result.current).toBe(first);
    rerender({ data: first, scope: 'page 2' });
    expect(result.current).toBe(first);
    // …and nothing when they fail: nothing is left to show for them.
    rerender({ data: undefined, scope: 'page 2' });
    expect(result.current).toBeUndefined();
  });

  it('keeps a page’s answer from the cache when going back to it, though it was carried over before', () => {
    type Props = { data?: { n: number }; scope: string };
    const { result, rerender } = renderHook(({ data, scope }: Props) => useLastData(data, scope), {
      initialProps: { data: { n: 1 }, scope: 'page 1' } as Props,
    });
    const first = result.current;
    rerender({ data: first, scope: 'page 2' });
    rerender({ data: { n: 2 }, scope: 'page 2' });
    // Back to page 1: the cache gives its answer, the same object carried over before…
    rerender({ data: first, scope: 'page 1' });
    rerender({ data: first, scope: 'page 1' });
    // …and it is kept while the refetch fails.
    rerender({ data: undefined, scope: 'page 1' });
    expect(result.current).toBe(first);
  });

  it('keeps an answer the new scope had at once (from the cache) while its refetch fails', () => {
    type Props = { data?: { n: number }; scope: string };
    const { result, rerender } = renderHook(({ data, scope }: Props) => useLastData(data, scope), {
      initialProps: { data: { n: 1 }, scope: 'page 1' } as Props,
    });
    rerender({ data: { n: 2 }, scope: 'page 2' });
    rerender({ data: undefined, scope: 'page 2' });
    expect(result.current).toEqual({ n: 2 });
  });
});
