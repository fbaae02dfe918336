import { useEffect } from 'react';

/** Names the browser tab after the page, for history, tabs and screen readers. */
export function useDocumentTitle(title: string) {
  useEffect(() => {
    document.title = `${title} · credledger`;
  }, [title]);
}
