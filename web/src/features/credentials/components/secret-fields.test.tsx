import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { expectMaskedField } from '@/test/masked';
import { SecretFields, type FieldDef } from './secret-fields';

const fields: FieldDef[] = [
  { name: 'url', label: 'Site URL', required: true, secret: false, format: 'URL' },
  { name: 'token', label: 'API token', required: true, secret: true },
];

function setup() {
  render(
    <form aria-label="Add credential">
      <SecretFields
        idPrefix="add"
        fields={fields}
        values={{ url: 'https://acme.example', token: 'sk-typed' }}
        errors={new Set()}
        onChange={() => {}}
      />
    </form>,
  );
}

describe('SecretFields', () => {
  it('masks a secret without making it a password field a browser would save', () => {
    setup();
    const token = screen.getByLabelText(/API token/);
    expect(token).toHaveAttribute('type', 'text');
    expect(token).toHaveClass('[-webkit-text-security:disc]');
    expect(token).toHaveValue('sk-typed');
    expect(screen.getByRole('form').querySelectorAll('input[type="password"]')).toHaveLength(0);
  });

  it('keeps a secret out of form history, spelling and the password managers that can be told', () => {
    setup();
    expectMaskedField(screen.getByLabelText(/API token/));
  });

  it('leaves the other fields readable and typed for what they hold', () => {
    setup();
    const url = screen.getByLabelText(/Site URL/);
    expect(url).toHaveAttribute('type', 'url');
    expect(url).toHaveAttribute('autocomplete', 'off');
    expect(url).not.toHaveClass('[-webkit-text-security:disc]');
    expect(url).not.toHaveAttribute('data-1p-ignore');
  });
});
