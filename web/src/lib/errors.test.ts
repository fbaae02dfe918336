import { CombinedError } from 'urql';
import { describe, expect, it } from 'vitest';
import { apiFailure, describeFailure } from './errors';

const graphqlError = (message: string, extensions: Record<string, unknown>) =>
  new CombinedError({ graphQLErrors: [{ message, extensions }] });

describe('apiFailure', () => {
  it('reads the code and the retry delay', () => {
    const failure = apiFailure(graphqlError('slow down', { code: 'RATE_LIMITED', retryAfter: 12 }));
    expect(failure).toEqual({ code: 'RATE_LIMITED', message: 'slow down', retryAfter: 12 });
    expect(describeFailure(failure!)).toBe('Too many requests. Try again in 12 s.');
    expect(describeFailure(failure!, 'live checks')).toBe('Too many live checks. Try again in 12 s.');
  });

  it('never shows an internal error’s detail', () => {
    expect(apiFailure(graphqlError('db exploded at row 7', { code: 'INTERNAL' }))?.message).toBe(
      'Something went wrong on the server. Try again.',
    );
  });

  it('knows an unavailable database, with its wait', () => {
    const failure = apiFailure(
      graphqlError('the service is unavailable for a moment', { code: 'UNAVAILABLE', retryAfter: 2 }),
    );
    expect(failure).toEqual({
      code: 'UNAVAILABLE',
      message: 'the service is unavailable for a moment',
      retryAfter: 2,
    });
  });

  it('treats unknown codes as internal and a lost connection as a network failure', () => {
    expect(apiFailure(graphqlError('?', { code: 'TEAPOT' }))?.code).toBe('INTERNAL');
    expect(apiFailure(new CombinedError({ networkError: new Error('offline') }))?.code).toBe('NETWORK');
    expect(apiFailure(undefined)).toBeNull();
  });
});
