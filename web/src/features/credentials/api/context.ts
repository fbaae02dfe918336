/**
 * urql context for every operation that reads or changes credentials: the document cache
 * refetches queries tagged with `Credential` after any mutation or subscription event tagged
 * the same way (an empty list carries no typename of its own).
 */
export const credentialContext = { additionalTypenames: ['Credential'] };
