import { Component, useEffect, type ErrorInfo, type ReactNode } from 'react';
import { ErrorState, LoadingState } from '@/components/page-state';
import { isChunkLoadError, reloadOnceForNewRelease } from '@/lib/chunk-error';
import { checkServer, useConnection } from '@/lib/connection';

interface Props {
  children: ReactNode;
  /** Changes (e.g. the location) clear a shown error. */
  resetKey?: string;
}

interface State {
  error: unknown;
  /** For a chunk that failed: whether the server answered when asked. */
  serverAnswers: boolean | null;
}

/**
 * Catches what a page throws while rendering or loading its code, so the header and navigation
 * stay and the person reads what happened with a way to try again. A page's code that failed to
 * load means either the server is gone (say so, and reload when it answers) or a new release
 * replaced the files (reload once).
 */
export class RouteErrorBoundary extends Component<Props, State> {
  state: State = { error: null, serverAnswers: null };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error, serverAnswers: null };
  }

  componentDidCatch(error: unknown, _info: ErrorInfo) {
    if (!isChunkLoadError(error)) return;
    void checkServer().then((ok) => {
      if (ok && reloadOnceForNewRelease()) return;
      this.setState({ serverAnswers: ok });
    });
  }

  componentDidUpdate(prev: Props) {
    if (this.state.error && prev.resetKey !== this.props.resetKey) {
      this.setState({ error: null, serverAnswers: null });
    }
  }

  private retry = () => this.setState({ error: null, serverAnswers: null });

  render() {
    const { error, serverAnswers } = this.state;
    if (!error) return this.props.children;
    if (isChunkLoadError(error)) {
      if (serverAnswers === null) return <LoadingState label="Checking the connection…" />;
      if (!serverAnswers) return <ChunkOffline />;
      return (
        <ErrorState
          title="This page could not load"
          message="A newer version of credledger may be running. Reload to use it."
          onRetry={() => window.location.reload()}
        />
      );
    }
    return (
      <ErrorState
        title="This page stopped working"
        message="Something went wrong while showing this page. Try again; the rest of the app still works."
        onRetry={this.retry}
      />
    );
  }
}

/** The server is gone while this page's code was being fetched: reload when it answers again. */
function ChunkOffline() {
  const { server } = useConnection();
  useEffect(() => {
    // The module loader remembers a failed import; a reload fetches the page's code afresh.
    if (server === 'online') window.location.reload();
  }, [server]);
  return (
    <ErrorState
      title="The server cannot be reached"
      message="This page's code could not be downloaded. It opens by itself when the server answers again."
    />
  );
}
