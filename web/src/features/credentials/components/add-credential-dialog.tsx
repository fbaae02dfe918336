import { FlaskConical, LogIn, Plus } from 'lucide-react';
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
import { Select } from '@/components/ui/select';
import { Spinner } from '@/components/ui/spinner';
import { toast } from '@/components/ui/use-toast';
import { getFragmentData, graphql, type FragmentType } from '@/gql';
import { apiFailure, describeFailure } from '@/lib/errors';
import { useSecretMutation } from '@/lib/use-secret-mutation';
import { cn } from '@/lib/utils';
import { AddCredentialMutation } from '../api/mutations';
import { credentialContext } from '../api/context';
import { providerName, scopesLabel, useStartOAuth } from '../api/oauth';
import { useCredentialTest, filledFields } from '../hooks/use-credential-test';
import { SecretFields, missingFields } from './secret-fields';
import { TestOutcome } from './test-outcome';

export const AddCredentialDialogServiceFragment = graphql(`
  fragment AddCredentialDialog_Service on Service {
    key
    displayName
    docsUrl
    enabled
    oauthAvailable
    oauthProvider
    oauthScopes
    fields {
      name
      label
      required
      secret
      format
      placeholder
    }
  }
`);

interface Props {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  services: FragmentType<typeof AddCredentialDialogServiceFragment>[];
  /** The service chosen from its card, if any. */
  preselectedService?: string | null;
  /** The names of the person's credentials of a service (a name is unique per service). */
  takenNames?: (service: string) => string[];
}

export function AddCredentialDialog({
  open,
  onOpenChange,
  services,
  preselectedService,
  takenNames = () => [],
}: Props) {
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      {/* Mounted only while open, so every opening starts from empty values. */}
      {open && (
        <AddCredentialForm
          services={services}
          preselectedService={preselectedService ?? null}
          takenNames={takenNames}
          onDone={() => onOpenChange(false)}
        />
      )}
    </Dialog>
  );
}

/** A link to the provider's page that says where the secret is found (https only). */
function safeDocsUrl(url: string | undefined): string | null {
  if (!url) return null;
  try {
    return new URL(url).protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

function AddCredentialForm({
  services: serviceRefs,
  preselectedService,
  takenNames,
  onDone,
}: {
  services: Props['services'];
  preselectedService: string | null;
  takenNames: (service: string) => string[];
  onDone: () => void;
}) {
  const ids = useId();
  const services = getFragmentData(AddCredentialDialogServiceFragment, serviceRefs).filter((s) => s.enabled);
  const [serviceKey, setServiceKey] = useState<string>(
    preselectedService && services.some((s) => s.key === preselectedService) ? preselectedService : '',
  );
  const service = services.find((s) => s.key === serviceKey);
  const [name, setName] = useState('');
  const [values, setValues] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Set<string>>(new Set());
  const [addError, setAddError] = useState<string | null>(null);
  // A name the server said is taken (it knows of credentials this page may not show yet).
  const [refusedName, setRefusedName] = useState<string | null>(null);
  const test = useCredentialTest();
  // Not useMutation: its state would keep the secret sent (the operation's variables) after the
  // user replaced or cleared it, for as long as the dialog is open.
  const [adding, add] = useSecretMutation(AddCredentialMutation);
  const oauth = useStartOAuth();
  const viaOAuth = !!service?.oauthAvailable;
  const provider = providerName(service?.oauthProvider);

  const testing = test.state.phase === 'testing';
  const passed = test.passed;
  const canAdd = !!service && passed && !adding && !testing;
  const trimmedName = name.trim();
  const nameTaken =
    !!service &&
    trimmedName !== '' &&
    (trimmedName === refusedName || takenNames(service.key).includes(trimmedName));
  const docsUrl = safeDocsUrl(service?.docsUrl);

  function chooseService(key: string) {
    setServiceKey(key);
    setValues({});
    setErrors(new Set());
    setAddError(null);
    test.reset();
  }

  function clearError(field: string) {
    setErrors((e) => {
      if (!e.has(field)) return e;
      const next = new Set(e);
      next.delete(field);
      return next;
    });
  }

  function change(field: string, value: string) {
    setValues((v) => ({ ...v, [field]: value }));
    clearError(field);
    // The test was of other values: forgotten, so nothing holds them once they are typed over.
    test.changed();
  }

  function checkRequired(withName: boolean): boolean {
    if (!service) {
      setErrors(new Set(['service']));
      return false;
    }
    const missing = new Set(missingFields(service.fields, values));
    if (withName && !name.trim()) missing.add('name');
    setErrors(missing);
    return missing.size === 0;
  }

  async function runTest() {
    setAddError(null);
    // A taken name is told before a live check is spent on a credential that cannot be added.
    if (!service || !checkRequired(false) || nameTaken) return;
    await test.run(service.key, values);
  }

  // Enter (or "Add") tests the values first when they have not passed a test yet.
  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!service || adding || testing) return;
    if (!passed) {
      // These exact values were refused: the outcome says why; no new check until they change.
      // A test that could not be made is tried again.
      if (test.refused) return;
      await runTest();
      return;
    }
    if (!checkRequired(true) || nameTaken) return;
    setAddError(null);
    const result = await add(
      { input: { service: service.key, name: name.trim(), fields: filledFields(values) } },
      credentialContext,
    );
    const failure = apiFailure(result.error);
    if (failure?.code === 'CONFLICT' && failure.message.includes('already exists for this service')) {
      setRefusedName(trimmedName);
      return;
    }
    if (failure || !result.data) {
      setAddError(failure ? describeFailure(failure, 'live checks') : 'The credential was not added.');
      return;
    }
    const added = result.data.addCredential.credential;
    toast({
      title: `${service.displayName} credential added`,
      description: added.isPrimary ? `${added.name} is the primary account.` : added.name,
      variant: 'success',
    });
    onDone();
  }

  const nameId = `${ids}-name`;
  // Not closed while the credential is being added (or the provider's page asked for): its
  // answer, an error to read or the credential added, would be lost with the form.
  const busy = adding || oauth.starting;
  return (
    <DialogContent dismissible={!busy}>
      <DialogHeader>
        <DialogTitle>Add credential</DialogTitle>
        <DialogDescription>
          The provider checks the credential before it is kept; it is stored encrypted.
        </DialogDescription>
      </DialogHeader>
      <form className="space-y-4" onSubmit={submit} noValidate aria-label="Add credential">
        <div className="space-y-2">
          <Label htmlFor={`${ids}-service`}>Service</Label>
          <Select
            id={`${ids}-service`}
            value={serviceKey}
            aria-invalid={errors.has('service')}
            onChange={(e) => chooseService(e.target.value)}
          >
            <option value="" disabled>
              Choose a service
            </option>
            {services.map((s) => (
              <option key={s.key} value={s.key}>
                {s.displayName}
              </option>
            ))}
          </Select>
          {errors.has('service') && <p className="text-xs text-destructive">Choose a service.</p>}
        </div>

        {service && viaOAuth && (
          <div className="space-y-3" data-testid="oauth-connect">
            <div className="space-y-2">
              <Label htmlFor={nameId}>Name (optional)</Label>
              <Input
                id={nameId}
                value={name}
                maxLength={100}
                placeholder="e.g. Work, Personal"
                autoComplete="off"
                aria-describedby={`${nameId}-hint`}
                onChange={(e) => setName(e.target.value)}
              />
              <p id={`${nameId}-hint`} className="text-xs text-muted-foreground">
                Without one, the account's email address names it.
              </p>
            </div>
            <p className="text-sm text-muted-foreground">
              {service.displayName} is connected through {provider}: you sign in there and allow access; no
              token is pasted here. {provider} is asked for: {scopesLabel(service.oauthScopes)}.
            </p>
            <Button
              type="button"
              className="w-full"
              disabled={oauth.starting}
              aria-busy={oauth.starting || undefined}
              onClick={() => void oauth.connect(service.key, { name })}
            >
              {oauth.starting ? <Spinner /> : <LogIn aria-hidden="true" />}
              Connect with {provider}
            </Button>
            {oauth.error && (
              <Alert variant="destructive" role="alert">
                {oauth.error}
              </Alert>
            )}
          </div>
        )}

        {service && !viaOAuth && (
          <>
            <div className="space-y-2">
              <Label htmlFor={nameId}>
                Name
                <span className="text-destructive" aria-hidden="true">
                  {' '}
                  *
                </span>
              </Label>
              <Input
                id={nameId}
                value={name}
                maxLength={100}
                required
                aria-required
                aria-invalid={errors.has('name') || nameTaken}
                aria-describedby={`${nameId}-hint`}
                placeholder="e.g. Work, Personal"
                autoComplete="off"
                // A service chosen from its card: the name is the first thing to type.
                autoFocus={!!preselectedService}
                onChange={(e) => {
                  setName(e.target.value);
                  clearError('name');
                }}
              />
              <p id={`${nameId}-hint`} className="text-xs text-muted-foreground">
                {nameTaken ? (
                  <span className="text-destructive">
                    You already have a {service.displayName} credential named “{trimmedName}”. Choose another
                    name.
                  </span>
                ) : errors.has('name') ? (
                  <span className="text-destructive">Name is required.</span>
                ) : (
                  'A name to tell this account from your others.'
                )}
              </p>
            </div>

            {docsUrl && (
              <p className="text-xs">
                <a
                  href={docsUrl}
                  target="_blank"
                  rel="noopener noreferrer"
                  className="font-medium text-primary underline-offset-4 hover:underline"
                >
                  Where do I find this?
                  <span className="sr-only">
                    {' '}
                    ({service.displayName}'s documentation, opens in a new tab)
                  </span>
                </a>
              </p>
            )}

            <SecretFields
              idPrefix={ids}
              fields={service.fields}
              values={values}
              errors={errors}
              onChange={change}
            />

            <div aria-live="polite" className="space-y-2">
              {testing && (
                <p className="flex items-center gap-2 text-sm text-muted-foreground" role="status">
                  <Spinner /> Testing with {service.displayName}…
                </p>
              )}
              <TestOutcome state={test.state} />
            </div>

            <Button
              type="button"
              variant="outline"
              className="w-full"
              disabled={testing || adding || nameTaken}
              onClick={runTest}
            >
              {testing ? <Spinner /> : <FlaskConical aria-hidden="true" />}
              {testing ? 'Testing credential…' : 'Test credential'}
            </Button>
          </>
        )}

        {addError && (
          <Alert variant="destructive" role="alert">
            {addError}
          </Alert>
        )}

        <DialogFooter>
          <Button type="button" variant="ghost" onClick={onDone} disabled={busy}>
            Cancel
          </Button>
          {!viaOAuth && (
            <Button
              type="submit"
              // Not `disabled`: a disabled submit button would stop Enter from testing the values.
              aria-disabled={!canAdd || nameTaken}
              aria-describedby={`${ids}-add-hint`}
              className={cn((!canAdd || nameTaken) && 'opacity-50')}
            >
              {adding ? <Spinner /> : <Plus aria-hidden="true" />}
              {adding ? 'Adding…' : 'Add'}
            </Button>
          )}
        </DialogFooter>
        {service && !viaOAuth && !adding && (!canAdd || nameTaken) && (
          <p id={`${ids}-add-hint`} className="text-right text-xs text-muted-foreground">
            {nameTaken
              ? 'Choose a name you have not used for this service.'
              : testing
                ? 'Adding waits for the test.'
                : test.refused
                  ? 'These values were refused: change them, then test again.'
                  : 'The credential is added once a test passes: press Enter or “Test credential”.'}
          </p>
        )}
      </form>
    </DialogContent>
  );
}
