import { Input } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import type { FieldFormat } from '@/gql/graphql';
import { maskedFieldProps } from '@/lib/masked-field';

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
 * One input per catalog field: a secret field holds a third party's key, not this site's password,
 * so it is masked without being a password field (`maskedFieldProps`). Every field has
 * `autocomplete=off`: a browser keeps none of them in its form history.
 */
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
              {...(field.secret ? maskedFieldProps : {})}
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
