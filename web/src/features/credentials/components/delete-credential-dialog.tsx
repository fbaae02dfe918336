import { Trash2 } from 'lucide-react';
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
import { DeleteCredentialMutation } from '../api/mutations';

interface Props {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  credentialId: string;
  name: string;
  isPrimary: boolean;
  serviceName: string;
}

export function DeleteCredentialDialog({ open, onOpenChange, ...rest }: Props) {
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      {open && <DeleteForm {...rest} onDone={() => onOpenChange(false)} />}
    </Dialog>
  );
}

function DeleteForm({
  credentialId,
  name,
  isPrimary,
  serviceName,
  onDone,
}: Omit<Props, 'open' | 'onOpenChange'> & { onDone: () => void }) {
  const id = useId();
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [{ fetching }, remove] = useMutation(DeleteCredentialMutation);
  const confirmed = typed === name;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!confirmed) return;
    const result = await remove({ id: credentialId }, credentialContext);
    const failure = apiFailure(result.error);
    if (failure || !result.data) {
      setError(failure ? describeFailure(failure) : 'The credential was not deleted.');
      return;
    }
    const promoted = result.data.deleteCredential.newPrimary;
    toast({
      title: `${name} deleted`,
      description: promoted ? `${promoted.name} is now the primary ${serviceName} account.` : undefined,
      variant: 'success',
    });
    onDone();
  }

  // Not closed while the deletion is on its way: its answer (a refusal to read) would be lost.
  return (
    <DialogContent dismissible={!fetching}>
      <DialogHeader>
        <DialogTitle>Delete {name}?</DialogTitle>
        <DialogDescription>
          Its encryption key is destroyed: the secret is gone for good. Its history stays in the ledger.
          {isPrimary && ` The oldest other active ${serviceName} account becomes primary.`}
        </DialogDescription>
      </DialogHeader>
      <form className="space-y-4" onSubmit={submit} noValidate>
        <div className="space-y-2">
          <Label htmlFor={id}>
            Type <span className="break-all font-mono font-semibold">{name}</span> to confirm
          </Label>
          <Input
            id={id}
            value={typed}
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => setTyped(e.target.value)}
          />
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
          <Button type="submit" variant="destructive" disabled={!confirmed || fetching}>
            {fetching ? <Spinner /> : <Trash2 aria-hidden="true" />}
            Delete credential
          </Button>
        </DialogFooter>
      </form>
    </DialogContent>
  );
}
