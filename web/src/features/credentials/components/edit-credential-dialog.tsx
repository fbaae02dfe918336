import { FlaskConical, Plus, Save, X } from 'lucide-react';
import { useId, useState, type FormEvent } from 'react';
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
import type { UpdateCredentialInput } from '@/gql/graphql';
import { apiFailure, describeFailure } from '@/lib/errors';
import { useSecretMutation } from '@/lib/use-secret-mutation';
import { credentialContext } from '../api/context';
import { UpdateCredentialMutation } from '../api/mutations';
import { filledFields, useCredentialTest } from '../hooks/use-credential-test';
import { SecretFields, missingFields, type FieldDef } from './secret-fields';
import { TestOutcome } from './test-outcome';

interface EditableCredential {
  id: string;
  service: string;
  name: string;
  metadata: Record<string, unknown>;
}

interface Props {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  credential: EditableCredential;
  serviceName: string;
  /** Null when its service is no longer offered: the server refuses a new secret for it. */
  fields: FieldDef[] | null;
}

export function EditCredentialDialog({ open, onOpenChange, ...rest }: Props) {
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      {open && <EditCredentialForm {...rest} onDone={() => onOpenChange(false)} />}
    </Dialog>
  );
}

type Row = { key: string; value: string };

function toRows(metadata: Record<string, unknown>): Row[] {
  return Object.entries(metadata ?? {}).map(([key, value]) => ({
    key,
    value: typeof value === 'string' ? value : JSON.stringify(value),
  }));
}

function fromRows(rows: Row[]): Record<string, string> {
  return Object.fromEntries(rows.filter((r) => r.key.trim()).map((r) => [r.key.trim(), r.value]));
}

function EditCredentialForm({
  credential,
  serviceName,
  fields,
  onDone,
}: Omit<Props, 'open' | 'onOpenChange'> & { onDone: () => void }) {
  const ids = useId();
  // The values as the dialog opened. What the person changed is told from these, not from the
  // credential as live updates bring it: a rename made in another tab meanwhile is not sent back.
  const [start] = useState(() => ({ name: credential.name, rows: toRows(credential.metadata) }));
  const [name, setName] = useState(start.name);
  const [rows, setRows] = useState<Row[]>(start.rows);
  const [replacing, setReplacing] = useState(false);
  const [values, setValues] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Set<string>>(new Set());
  const [saveError, setSaveError] = useState<string | null>(null);
  const [showUnnamed, setShowUnnamed] = useState(false);
  const test = useCredentialTest();
  // Not useMutation: its state would keep a new secret sent (the operation's variables) after the
  // user replaced it or stopped replacing the secret, for as long as the dialog is open.
  const [saving, update] = useSecretMutation(UpdateCredentialMutation);

  const testing = test.state.phase === 'testing';
  const renamed = name.trim() !== start.name;
  // Labels given a value but no name: told when Save is pressed, not dropped from what is sent.
  const unnamed = new Set(rows.flatMap((r, i) => (!r.key.trim() && r.value.trim() ? [i] : [])));
  const metadataChanged =
    unnamed.size > 0 || JSON.stringify(fromRows(rows)) !== JSON.stringify(fromRows(start.rows));
  const secretReady = replacing && test.passed;
  const canSave =
    !saving && !testing && name.trim() !== '' && (replacing ? secretReady : renamed || metadataChanged);

  function change(field: string, value: string) {
    setValues((v) => ({ ...v, [field]: value }));
    setErrors((e) => {
      const next = new Set(e);
      next.delete(field);
      return next;
    });
    // The test was of other values: forgotten, so nothing holds them once they are typed over.
    test.changed();
  }

  async function runTest() {
    if (!fields) return;
    const missing = missingFields(fields, values);
    setErrors(new Set(missing));
    if (missing.length > 0) return;
    await test.run(credential.service, values);
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!canSave) return;
    if (unnamed.size > 0) {
      setShowUnnamed(true);
      return;
    }
    const input: UpdateCredentialInput = {};
    if (renamed) input.name = name.trim();
    if (metadataChanged) input.metadata = fromRows(rows);
    if (replacing) input.fields = filledFields(values);
    setSaveError(null);
    const result = await update({ id: credential.id, input }, credentialContext);
    const failure = apiFailure(result.error);
    if (failure) {
      setSaveError(describeFailure(failure, 'live checks'));
      return;
    }
    toast({ title: `${name.trim()} saved`, variant: 'success' });
    onDone();
  }

  // Not closed while the change is on its way: its answer (a refusal to read) would be lost.
  return (
    <DialogContent dismissible={!saving}>
      <DialogHeader>
        <DialogTitle>Edit {credential.name}</DialogTitle>
        <DialogDescription>
          {fields
            ? `Rename it, change its labels, or replace its secret. A new secret is checked with ${serviceName} first.`
            : `Rename it or change its labels. ${serviceName} is no longer offered: its secret cannot be replaced.`}
        </DialogDescription>
      </DialogHeader>
      <form className="space-y-4" onSubmit={submit} noValidate aria-label={`Edit ${credential.name}`}>
        <div className="space-y-2">
          <Label htmlFor={`${ids}-name`}>Name</Label>
          <Input
            id={`${ids}-name`}
            value={name}
            maxLength={100}
            required
            aria-invalid={name.trim() === ''}
            autoComplete="off"
            onChange={(e) => setName(e.target.value)}
          />
        </div>

        <fieldset className="space-y-2">
          <legend className="text-sm font-medium">Labels</legend>
          {rows.length === 0 && <p className="text-xs text-muted-foreground">No labels yet.</p>}
          {rows.map((row, i) => (
            <div key={i} className="space-y-1">
              <div className="flex gap-2">
                <Input
                  aria-label={`Label ${i + 1} name`}
                  placeholder="name"
                  value={row.key}
                  aria-invalid={showUnnamed && unnamed.has(i)}
                  aria-describedby={showUnnamed && unnamed.has(i) ? `${ids}-label-${i}-error` : undefined}
                  onChange={(e) =>
                    setRows((r) => r.map((x, j) => (j === i ? { ...x, key: e.target.value } : x)))
                  }
                />
                <Input
                  aria-label={`Label ${i + 1} value`}
                  placeholder="value"
                  value={row.value}
                  onChange={(e) =>
                    setRows((r) => r.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)))
                  }
                />
                <Button
                  variant="ghost"
                  size="icon"
                  className="shrink-0"
                  aria-label={`Remove label ${i + 1}`}
                  onClick={() => setRows((r) => r.filter((_, j) => j !== i))}
                >
                  <X aria-hidden="true" />
                </Button>
              </div>
              {showUnnamed && unnamed.has(i) && (
                <p id={`${ids}-label-${i}-error`} className="text-xs text-destructive">
                  Give label {i + 1} a name, or remove it.
                </p>
              )}
            </div>
          ))}
          <Button variant="outline" size="sm" onClick={() => setRows((r) => [...r, { key: '', value: '' }])}>
            <Plus aria-hidden="true" /> Add label
          </Button>
        </fieldset>

        {fields && (
          <fieldset className="space-y-3 rounded-md border p-3">
            <legend className="px-1 text-sm font-medium">Secret</legend>
            <label className="flex items-center gap-2 text-sm">
              <input
                type="checkbox"
                className="h-4 w-4"
                checked={replacing}
                onChange={(e) => {
                  setReplacing(e.target.checked);
                  setValues({});
                  setErrors(new Set());
                  test.reset();
                }}
              />
              Replace the secret
            </label>
            {replacing && (
              <>
                <SecretFields
                  idPrefix={ids}
                  fields={fields}
                  values={values}
                  errors={errors}
                  onChange={change}
                />
                <div aria-live="polite" className="space-y-2">
                  {testing && (
                    <p className="flex items-center gap-2 text-sm text-muted-foreground" role="status">
                      <Spinner /> Testing with {serviceName}…
                    </p>
                  )}
                  <TestOutcome state={test.state} />
                </div>
                <Button variant="outline" className="w-full" disabled={testing || saving} onClick={runTest}>
                  {testing ? <Spinner /> : <FlaskConical aria-hidden="true" />}
                  {testing ? 'Testing credential…' : 'Test credential'}
                </Button>
              </>
            )}
          </fieldset>
        )}

        {saveError && (
          <Alert variant="destructive" role="alert">
            {saveError}
          </Alert>
        )}

        <DialogFooter>
          <Button variant="ghost" onClick={onDone} disabled={saving}>
            Cancel
          </Button>
          <Button type="submit" disabled={!canSave}>
            {saving ? <Spinner /> : <Save aria-hidden="true" />}
            Save
          </Button>
        </DialogFooter>
      </form>
    </DialogContent>
  );
}
