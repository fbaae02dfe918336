import { Copy, Eye, EyeOff, ShieldAlert } from 'lucide-react';
import { useCallback, useEffect, useRef, useState } from 'react';
import { Alert } from '@/components/ui/alert';
import { Button } from '@/components/ui/button';
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
} from '@/components/ui/dialog';
import { Spinner } from '@/components/ui/spinner';
import { apiFailure, describeFailure } from '@/lib/errors';
import { useSecretMutation } from '@/lib/use-secret-mutation';
import { RevealCredentialMutation } from '../api/mutations';

/** How long a revealed secret stays on screen. */
export const REVEAL_SECONDS = 30;

interface Props {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  credentialId: string;
  name: string;
  serviceName: string;
}

export function RevealCredentialDialog({ open, onOpenChange, ...rest }: Props) {
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      {/* Mounted only while open: the secret lives only in the panel's state. */}
      {open && <RevealPanel {...rest} onDone={() => onOpenChange(false)} />}
    </Dialog>
  );
}

function RevealPanel({
  credentialId,
  name,
  serviceName,
  onDone,
}: Omit<Props, 'open' | 'onOpenChange'> & { onDone: () => void }) {
  // Not useMutation: its state would keep the answer, the secret in it, after it is hidden.
  const [busy, send] = useSecretMutation(RevealCredentialMutation);
  const [secret, setSecret] = useState<[string, string][] | null>(null);
  const [left, setLeft] = useState(REVEAL_SECONDS);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  // Whether this panel put the secret in the clipboard: emptied when the secret hides or the
  // panel goes, so the copy does not outlive what is shown (anything else there is left alone).
  const inClipboard = useRef(false);
  const clearClipboard = useCallback(() => {
    if (!inClipboard.current) return;
    inClipboard.current = false;
    try {
      navigator.clipboard.writeText('').catch(() => {});
    } catch {
      // No clipboard to clear.
    }
  }, []);
  useEffect(() => clearClipboard, [clearClipboard]);

  const hide = useCallback(() => {
    setSecret(null);
    setCopied(null);
    clearClipboard();
  }, [clearClipboard]);

  useEffect(() => {
    if (!secret) return;
    const started = Date.now();
    const timer = window.setInterval(() => {
      const remaining = REVEAL_SECONDS - Math.floor((Date.now() - started) / 1000);
      if (remaining <= 0) {
        hide();
        setLeft(REVEAL_SECONDS);
      } else {
        setLeft(remaining);
      }
    }, 250);
    return () => window.clearInterval(timer);
  }, [secret, hide]);

  async function reveal() {
    setError(null);
    const result = await send({ id: credentialId });
    const failure = apiFailure(result.error);
    if (failure || !result.data) {
      setError(failure ? describeFailure(failure) : 'The secret could not be shown.');
      return;
    }
    const fields = result.data.revealCredential.fields;
    setLeft(REVEAL_SECONDS);
    setSecret(Object.entries(fields).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  }

  async function copy(field: string, value: string) {
    try {
      await navigator.clipboard.writeText(value);
      inClipboard.current = true;
      setCopied(field);
    } catch {
      setCopied(null);
    }
  }

  // Not closed while the secret is on its way: the server records the disclosure before it answers.
  return (
    <DialogContent dismissible={!busy}>
      <DialogHeader>
        <DialogTitle>Reveal {name}</DialogTitle>
        <DialogDescription>Shows the secret of this {serviceName} credential to you only.</DialogDescription>
      </DialogHeader>
      <div className="space-y-4">
        <Alert variant="warning">
          <ShieldAlert aria-hidden="true" />
          <span>
            Revealing is recorded in the ledger with your name, the time and your address. The secret hides
            again after {REVEAL_SECONDS} seconds.
          </span>
        </Alert>

        {secret ? (
          <div className="space-y-3" data-testid="revealed-secret">
            <dl className="space-y-2">
              {secret.map(([field, value]) => (
                <div key={field} className="space-y-1">
                  <dt className="text-xs font-medium text-muted-foreground">{field}</dt>
                  <dd className="flex items-center gap-2">
                    <code className="min-w-0 flex-1 break-all rounded bg-muted px-2 py-1 text-sm">
                      {value}
                    </code>
                    <Button
                      variant="outline"
                      size="icon"
                      aria-label={`Copy ${field}`}
                      onClick={() => copy(field, value)}
                    >
                      <Copy aria-hidden="true" />
                    </Button>
                  </dd>
                </div>
              ))}
            </dl>
            <p className="text-xs text-muted-foreground" aria-live="polite">
              {copied ? `${copied} copied. ` : ''}Hides in {left} s; a copied value is then cleared from the
              clipboard.
            </p>
          </div>
        ) : (
          <p className="text-sm text-muted-foreground" data-testid="secret-hidden">
            The secret is hidden.
          </p>
        )}

        {error && (
          <Alert variant="destructive" role="alert">
            {error}
          </Alert>
        )}

        <DialogFooter>
          <Button variant="ghost" onClick={onDone} disabled={busy}>
            Close
          </Button>
          {secret ? (
            <Button variant="outline" onClick={hide}>
              <EyeOff aria-hidden="true" /> Hide now
            </Button>
          ) : (
            <Button onClick={reveal} disabled={busy}>
              {busy ? <Spinner /> : <Eye aria-hidden="true" />}
              Reveal secret
            </Button>
          )}
        </DialogFooter>
      </div>
    </DialogContent>
  );
}
