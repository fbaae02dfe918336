import { Ban } from 'lucide-react';
import { useId, useState, type FormEvent } from 'react';
import { useMutation } from 'urql';
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
import { Input } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import { Spinner } from '@/components/ui/spinner';
import { toast } from '@/components/ui/use-toast';
import { apiFailure, describeFailure } from '@/lib/errors';
import { credentialContext } from '../api/context';
import { RevokeCredentialMutation } from '../api/mutations';

interface Props {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  credentialId: string;
  name: string;
}

export function RevokeCredentialDialog({ open, onOpenChange, credentialId, name }: Props) {
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      {open && <RevokeForm credentialId={credentialId} name={name} onDone={() => onOpenChange(false)} />}
    </Dialog>
  );
}

function RevokeForm({
  credentialId,
  name,
  onDone,
}: {
  credentialId: string;
  name: string;
  onDone: () => void;
}) {
  const id = useId();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [{ fetching }, revoke] = useMutation(RevokeCredentialMutation);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const result = await revoke({ id: credentialId, reason: reason.trim() || null }, credentialContext);
    const failure = apiFailure(result.error);
    if (failure) {
      setError(describeFailure(failure));
      return;
    }
    toast({ title: `${name} revoked`, variant: 'success' });
    onDone();
  }

  // Not closed while the revocation is on its way: its answer (a refusal to read) would be lost.
  return (
    <DialogContent dismissible={!fetching}>
      <DialogHeader>
        <DialogTitle>Revoke {name}?</DialogTitle>
        <DialogDescription>
          It stays in the ledger but is no longer given to MCP servers. Delete it to destroy the secret.
        </DialogDescription>
      </DialogHeader>
      <form className="space-y-4" onSubmit={submit} noValidate>
        <div className="space-y-2">
          <Label htmlFor={id}>
            Reason <span className="font-normal text-muted-foreground">(optional)</span>
          </Label>
          <Input id={id} value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} />
        </div>
        {error && (
          <Alert variant="destructive" role="alert">
            {error}
          </Alert>
        )}
        <DialogFooter>
          <Button variant="ghost" onClick={onDone} disabled={fetching}>
            Cancel
          </Button>
          <Button type="submit" variant="destructive" disabled={fetching}>
            {fetching ? <Spinner /> : <Ban aria-hidden="true" />}
            Revoke
          </Button>
        </DialogFooter>
      </form>
    </DialogContent>
  );
}
