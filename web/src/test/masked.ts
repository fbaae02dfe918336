import { expect } from 'vitest';

/**
 * That `field` holds a secret the way `maskedFieldProps` (src/lib/masked-field.ts) keeps one: a
 * text input masked by CSS, kept out of form history, spelling and the password managers that
 * can be told, so no browser offers to save it as this site's password.
 */
export function expectMaskedField(field: HTMLElement) {
  expect(field).toHaveAttribute('type', 'text');
  expect(field).toHaveClass('[-webkit-text-security:disc]');
  expect(field).toHaveAttribute('autocomplete', 'off');
  expect(field).toHaveAttribute('spellcheck', 'false');
  expect(field).toHaveAttribute('autocorrect', 'off');
  expect(field).toHaveAttribute('autocapitalize', 'off');
  expect(field).toHaveAttribute('data-1p-ignore');
  expect(field).toHaveAttribute('data-lpignore', 'true');
  expect(field).toHaveAttribute('data-bwignore');
  expect(field).toHaveAttribute('data-form-type', 'other');
}
