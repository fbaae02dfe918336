/**
 * A GraphQL session of the test's own, outside the browser: it signs in with its own cookie and
 * changes things "elsewhere" so the browser can be seen to follow without a reload.
 */
export class ApiSession {
  private cookie = '';

  constructor(private readonly baseUrl: string) {}

  async request<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<T> {
    const res = await fetch(`${this.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(this.cookie ? { cookie: this.cookie } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const setCookie = res.headers.getSetCookie?.() ?? [];
    for (const c of setCookie) {
      const pair = c.split(';')[0];
      if (pair.includes('=')) this.cookie = pair;
    }
    const body = (await res.json()) as {
      data?: T;
      errors?: { message: string; extensions?: { code?: string } }[];
    };
    if (body.errors?.length) {
      const e = body.errors[0];
      throw new Error(`${e.extensions?.code ?? 'ERROR'}: ${e.message}`);
    }
    return body.data as T;
  }

  /** A request with this session's cookie (no redirects followed), e.g. an OAuth callback. */
  async send(url: string, init: RequestInit = {}): Promise<Response> {
    return fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers ?? {}), ...(this.cookie ? { cookie: this.cookie } : {}) },
    });
  }

  async signIn(login: string, password: string) {
    await this.request(
      'mutation ($login: String!, $password: String!) { login(login: $login, password: $password) { user { id } } }',
      { login, password },
    );
  }
}
