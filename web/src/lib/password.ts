/** The shortest password the server stores, in characters (`MIN_PASSWORD_CHARS`, api/src/auth.rs). */
export const MIN_PASSWORD = 12;

/**
 * A password's length as the server counts it: characters (Rust's `chars().count()`, Unicode
 * scalar values), not JavaScript's UTF-16 units, in which an emoji counts two.
 */
export function passwordLength(password: string): number {
  return [...password].length;
}
