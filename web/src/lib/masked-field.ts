/**
 * Props for a field that holds a secret that is not this site's password for the person signed
 * in: a third party's key, or the password an administrator sets for someone else. Browsers save
 * whatever is typed into a `type=password` field as the site's password (Chromium offers to,
 * whatever its `autocomplete` says), so such a field is a text field (the caller's `type`, never
 * `password`) masked by CSS (`-webkit-text-security`: Chromium, Safari, Firefox 114+).
 * `autocomplete=off` keeps the value out of the browser's form history (Chromium stores a text
 * field's value on disk without it); the data attributes are the ignore hints 1Password, LastPass,
 * Bitwarden and Dashlane document. The field's `className` is this one's.
 */
export const maskedFieldProps = {
  autoComplete: 'off',
  spellCheck: false,
  autoCorrect: 'off',
  autoCapitalize: 'off',
  'data-1p-ignore': 'true',
  'data-lpignore': 'true',
  'data-bwignore': 'true',
  'data-form-type': 'other',
  className: '[-webkit-text-security:disc]',
} as const;
