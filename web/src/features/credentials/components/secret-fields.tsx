import { Input } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import type { FieldFormat } from '@/gql/graphql';

export interface FieldDef {
  name: string;
  label: string;
  required: boolean;
  secret: boolean;
  format?: FieldFormat | null;
  /** What the value looks like, from the catalog; never a real value. */
  placeholder?: string | null;
}

/** The names of required fields left empty. */
export function missingFields(fields: FieldDef[], values: Record<string, string>): string[] {
  return fields.filter((f) => f.required && !values[f.name]?.trim()).map((f) => f.name);
}

function inputType(field: FieldDef) {
  if (field.format === 'URL') return 'url';
  if (field.format === 'EMAIL') return 'email';
  return 'text';
}

/**
 * A secret field holds a third party's key, not this site's password. Browsers save whatever is
 * typed into a `type=password` field as the site's password (Chromium offers to, whatever its
 * `autocomplete` says), so a secret is a text field masked by CSS (`-webkit-text-security`:
 * Chromium, Safari, Firefox 114+). Every field here has `autocomplete=off`, which keeps a secret
 * out of the browser's form history (Chromium stores a text field's value on disk without it);
 * the data attributes are the ignore hints 1Password, LastPass, Bitwarden and Dashlane document.
 */
const secretFieldProps = {
  autoCorrect: 'off',
  autoCapitalize: 'off',
  'data-1p-ignore': 'true',
  'data-lpignore': 'true',
  'data-bwignore': 'true',
  'data-form-type': 'other',
  className: '[-webkit-text-security:disc]',
} as const;

/** One input per catalog field: secret fields are masked, and no browser keeps or offers them. */
export function SecretFields({
  idPrefix,
  fields,
  values,
  errors,
  disabled,
  onChange,
}: {
  idPrefix: string;
  fields: FieldDef[];
  values: Record<string, string>;
  errors: Set<string>;
  disabled?: boolean;
  onChange: (name: string, value: string) => void;
}) {
  return (
    <>
      {fields.map((field) => {
        const id = `${idPrefix}-${field.name}`;
        const invalid = errors.has(field.name);
        return (
          <div key={field.name} className="space-y-2">
            <Label htmlFor={id}>
              {field.label}
              {field.required ? (
                <span className="text-destructive" aria-hidden="true">
                  {' '}
                  *
                </span>
              ) : (
                <span className="font-normal text-muted-foreground"> (optional)</span>
              )}
            </Label>
            <Input
              id={id}
              name={field.name}
              type={inputType(field)}
              value={values[field.name] ?? ''}
              required={field.required}
              aria-required={field.required}
              aria-invalid={invalid}
              aria-describedby={invalid ? `${id}-error` : undefined}
              placeholder={field.placeholder ?? undefined}
              autoComplete="off"
              spellCheck={false}
              disabled={disabled}
              onChange={(e) => onChange(field.name, e.target.value)}
              {...(field.secret ? secretFieldProps : {})}
            />
            {invalid && (
              <p id={`${id}-error`} className="text-xs text-destructive">
                {field.label} is required.
              </p>
            )}
          </div>
        );
      })}
    </>
  );
}
