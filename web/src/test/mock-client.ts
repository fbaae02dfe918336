import {
  Client,
  makeErrorResult,
  makeResult,
  subscriptionExchange,
  type Exchange,
  type Operation,
  type OperationResult,
  type SubscriptionForwarder,
} from 'urql';
import { filter, fromPromise, fromValue, map, mergeMap, never, pipe, type Source } from 'wonka';

/**
 * What a fake operation answers with. Errors come with `data: null`, as when a field failed,
 * unless the answer says `data: undefined`: no data at all, as when the server refused the
 * request before running it (rate limited: HTTP 429).
 */
export type Answer =
  | { data: unknown }
  | { errors: { message: string; extensions?: Record<string, unknown> }[]; data?: null }
  | { networkError: Error };

/** Answers one operation: at once, or later through a promise the test resolves. */
export type Responder = (variables: Record<string, unknown>) => Answer | Promise<Answer>;

function toResult(operation: Operation, answer: Answer): OperationResult {
  if ('networkError' in answer) return makeErrorResult(operation, answer.networkError);
  if ('errors' in answer) {
    return makeResult(operation, { data: 'data' in answer ? answer.data : null, errors: answer.errors });
  }
  return makeResult(operation, { data: answer.data as Record<string, unknown> });
}

function operationName(operation: Operation): string {
  const definitions = 'definitions' in operation.query ? operation.query.definitions : [];
  for (const def of definitions) {
    if (def.kind === 'OperationDefinition' && def.name) return def.name.value;
  }
  return '';
}

/**
 * A real urql client whose only exchange answers from fixtures keyed by operation name (no
 * network). Every operation sent is recorded with its variables. `exchanges` come first (e.g.
 * `fakeSubscriptions().exchange`).
 */
export function mockClient(responders: Record<string, Responder>, { exchanges = [] as Exchange[] } = {}) {
  const calls: { name: string; variables: Record<string, unknown> }[] = [];
  const fixtures: Exchange = () => (ops$) =>
    pipe(
      ops$,
      filter((op) => op.kind !== 'teardown'),
      mergeMap((operation): Source<OperationResult> => {
        const name = operationName(operation);
        const variables = (operation.variables ?? {}) as Record<string, unknown>;
        calls.push({ name, variables });
        const responder = responders[name];
        if (!responder) {
          if (operation.kind === 'subscription') return never;
          return fromValue(
            toResult(operation, {
              errors: [{ message: `no fixture for ${name}`, extensions: { code: 'INTERNAL' } }],
            }),
          );
        }
        const answer = responder(variables);
        return pipe(
          answer instanceof Promise ? fromPromise(answer) : fromPromise(Promise.resolve(answer)),
          map((a) => toResult(operation, a)),
        );
      }),
    );
  const client = new Client({ url: '/graphql', exchanges: [...exchanges, fixtures] });
  return { client, calls };
}

/** A promise with its resolver outside, to hold an answer until the test releases it. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

type SubscriptionSink = Parameters<ReturnType<SubscriptionForwarder>['subscribe']>[0];

/**
 * The server's end of subscriptions, driven by the test: urql's own `subscriptionExchange`, as the
 * app's client has, over a transport that sends every open subscription an event (with errors too
 * if given, as a field that failed; `data: null` as a refusal answered in an event), ends them
 * with the server's Complete, or with an error. Give `exchange` to `mockClient`.
 */
export function fakeSubscriptions() {
  const open = new Set<SubscriptionSink>();
  let started = 0;
  const exchange = subscriptionExchange({
    forwardSubscription: () => ({
      subscribe(sink) {
        started++;
        open.add(sink);
        return { unsubscribe: () => void open.delete(sink) };
      },
    }),
  });
  const end = (how: (sink: SubscriptionSink) => void) => {
    const ending = [...open];
    open.clear();
    for (const sink of ending) how(sink);
  };
  return {
    exchange,
    /** How many subscriptions were started so far. */
    started: () => started,
    /** How many are open now. */
    open: () => open.size,
    next: (
      data: Record<string, unknown> | null,
      errors?: { message: string; extensions?: Record<string, unknown> }[],
    ) => {
      for (const sink of open) sink.next(errors ? { data, errors } : { data });
    },
    complete: () => end((sink) => sink.complete()),
    error: (errors: { message: string; extensions?: Record<string, unknown> }[]) =>
      end((sink) => sink.error(errors)),
  };
}
