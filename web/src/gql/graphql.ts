/* eslint-disable */
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
export type MakeOptional<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]?: Maybe<T[SubKey]> };
export type MakeMaybe<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]: Maybe<T[SubKey]> };
export type MakeEmpty<T extends { [key: string]: unknown }, K extends keyof T> = { [_ in K]?: never };
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /**
   * Implement the DateTime<Utc> scalar
   *
   * The input/output is a string in RFC3339 format.
   */
  DateTime: { input: string; output: string; }
  /** A scalar that can represent any JSON value. */
  JSON: { input: Record<string, unknown>; output: Record<string, unknown>; }
};

/** Who the provider says a credential belongs to. */
export type AccountIdentity = {
  __typename?: 'AccountIdentity';
  displayName?: Maybe<Scalars['String']['output']>;
  email?: Maybe<Scalars['String']['output']>;
  id: Scalars['String']['output'];
};

export type AddCredentialInput = {
  /** The secret's fields, named as in the catalog (a JSON object of strings). */
  fields: Scalars['JSON']['input'];
  /** Labels of your own (a JSON object of strings). */
  metadata?: InputMaybe<Scalars['JSON']['input']>;
  name: Scalars['String']['input'];
  service: Scalars['String']['input'];
};

export type AddCredentialPayload = {
  __typename?: 'AddCredentialPayload';
  credential: Credential;
  rateLimitRemaining: Scalars['Int']['output'];
};

/** An API token's description (never the token). */
export type ApiToken = {
  __typename?: 'ApiToken';
  createdAt: Scalars['DateTime']['output'];
  expiresAt?: Maybe<Scalars['DateTime']['output']>;
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
  revoked: Scalars['Boolean']['output'];
  scopes: Array<Scope>;
};

/** A page of the audit trail, newest first (a Relay connection). */
export type AuditConnection = {
  __typename?: 'AuditConnection';
  edges: Array<AuditEdge>;
  pageInfo: PageInfo;
};

export type AuditEdge = {
  __typename?: 'AuditEdge';
  cursor: Scalars['String']['output'];
  node: AuditEvent;
};

/** One event of the ledger as the audit trail shows it: who, when, from where, what changed. */
export type AuditEvent = {
  __typename?: 'AuditEvent';
  /** The event's type (`CredentialRegistered`, `CredentialUsed`, …). */
  action: Scalars['String']['output'];
  actor: Scalars['String']['output'];
  context: Scalars['JSON']['output'];
  credentialId?: Maybe<Scalars['ID']['output']>;
  error?: Maybe<Scalars['String']['output']>;
  ip?: Maybe<Scalars['String']['output']>;
  newValues: Scalars['JSON']['output'];
  occurredAt: Scalars['DateTime']['output'];
  oldValues: Scalars['JSON']['output'];
  position: Scalars['Int']['output'];
  requestId?: Maybe<Scalars['String']['output']>;
  service?: Maybe<Scalars['String']['output']>;
  success: Scalars['Boolean']['output'];
  userAgent?: Maybe<Scalars['String']['output']>;
  userId?: Maybe<Scalars['String']['output']>;
};

/** Which audit events to list. */
export type AuditFilter = {
  /** An event type, e.g. `CredentialValidated`. */
  action?: InputMaybe<Scalars['String']['input']>;
  actor?: InputMaybe<Scalars['String']['input']>;
  credentialId?: InputMaybe<Scalars['ID']['input']>;
  from?: InputMaybe<Scalars['DateTime']['input']>;
  service?: InputMaybe<Scalars['String']['input']>;
  to?: InputMaybe<Scalars['DateTime']['input']>;
};

export type AuthType =
  | 'API_KEY'
  | 'API_TOKEN'
  | 'BASIC_AUTH'
  | 'OAUTH_2';

export type CreateUserInput = {
  admin?: Scalars['Boolean']['input'];
  displayName: Scalars['String']['input'];
  email: Scalars['String']['input'];
  password: Scalars['String']['input'];
  userId: Scalars['String']['input'];
};

/** A new API token: `token` is shown this once and never again. */
export type CreatedApiToken = {
  __typename?: 'CreatedApiToken';
  apiToken: ApiToken;
  token: Scalars['String']['output'];
};

/** A credential's metadata and state: never its secret. */
export type Credential = {
  __typename?: 'Credential';
  account?: Maybe<AccountIdentity>;
  createdAt: Scalars['DateTime']['output'];
  createdBy: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  isPrimary: Scalars['Boolean']['output'];
  lastSyncedAt?: Maybe<Scalars['DateTime']['output']>;
  lastUsedAt?: Maybe<Scalars['DateTime']['output']>;
  lastValidatedAt?: Maybe<Scalars['DateTime']['output']>;
  /** The credential's version in the ledger (its keyring's sequence at the last change). */
  ledgerVersion: Scalars['Int']['output'];
  /** The owner's own labels (a JSON object of strings). */
  metadata: Scalars['JSON']['output'];
  name: Scalars['String']['output'];
  /** The owner's user id. */
  owner: Scalars['String']['output'];
  /** What the provider reported at the last check (a JSON object of strings). */
  providerMetadata: Scalars['JSON']['output'];
  scopes: Array<Scalars['String']['output']>;
  secretVersion: Scalars['Int']['output'];
  service: Scalars['String']['output'];
  status: CredentialStatus;
  syncError?: Maybe<Scalars['String']['output']>;
  syncStatus?: Maybe<SyncStatus>;
  tokenExpiresAt?: Maybe<Scalars['DateTime']['output']>;
  updatedAt: Scalars['DateTime']['output'];
  updatedBy: Scalars['String']['output'];
  useCount: Scalars['Int']['output'];
  validationError?: Maybe<Scalars['String']['output']>;
};

/** A change to one of the signed-in person's credentials, as it happens. */
export type CredentialChange = {
  __typename?: 'CredentialChange';
  /** The event's type (`CredentialValidated`, `PrimaryCredentialChanged`, …). */
  action: Scalars['String']['output'];
  /**
   * The credential as it is now (absent once erased). Read only when asked for: one that
   * cannot be read now is an error on this field (`UNAVAILABLE`, `INTERNAL`), never absent.
   */
  credential?: Maybe<Credential>;
  credentialId: Scalars['ID']['output'];
  position: Scalars['Int']['output'];
};

/** Credential counts for a scope (one service, a person, or everyone). */
export type CredentialCounts = {
  __typename?: 'CredentialCounts';
  active: Scalars['Int']['output'];
  expired: Scalars['Int']['output'];
  inactive: Scalars['Int']['output'];
  invalid: Scalars['Int']['output'];
  pendingSync: Scalars['Int']['output'];
  revoked: Scalars['Int']['output'];
  syncErrors: Scalars['Int']['output'];
  total: Scalars['Int']['output'];
};

export type CredentialStatus =
  | 'ACTIVE'
  | 'EXPIRED'
  | 'INACTIVE'
  | 'INVALID'
  | 'REVOKED';

/** How many times credentials of one service were used on one UTC day. */
export type DailyServiceUses = {
  __typename?: 'DailyServiceUses';
  /** `YYYY-MM-DD`. */
  day: Scalars['String']['output'];
  service: Scalars['String']['output'];
  uses: Scalars['Int']['output'];
};

/** The credentials page's stats. */
export type Dashboard = {
  __typename?: 'Dashboard';
  active: Scalars['Int']['output'];
  byService: Array<ServiceCounts>;
  expired: Scalars['Int']['output'];
  /**
   * Active credentials whose token expires within the warning window (7 days unless
   * configured), or has just expired and is about to be marked so.
   */
  expiringSoon: Scalars['Int']['output'];
  inactive: Scalars['Int']['output'];
  invalid: Scalars['Int']['output'];
  pendingSync: Scalars['Int']['output'];
  revoked: Scalars['Int']['output'];
  servicesConnected: Scalars['Int']['output'];
  syncErrors: Scalars['Int']['output'];
  total: Scalars['Int']['output'];
};

export type DeleteCredentialPayload = {
  __typename?: 'DeleteCredentialPayload';
  deletedId: Scalars['ID']['output'];
  /** The credential promoted to primary in its place, if any. */
  newPrimary?: Maybe<Credential>;
};

export type FieldFormat =
  | 'EMAIL'
  | 'SLUG'
  | 'URL';

/** One event in a credential's history, with its place in the hash chain. */
export type HistoryEvent = {
  __typename?: 'HistoryEvent';
  actor: Scalars['String']['output'];
  /** The event's SHA-256 in the ledger's hash chain (hex). */
  hash: Scalars['String']['output'];
  ip?: Maybe<Scalars['String']['output']>;
  occurredAt: Scalars['DateTime']['output'];
  /** The event's non-secret facts: what changed (old and new values) and its context. */
  payload: Scalars['JSON']['output'];
  position: Scalars['Int']['output'];
  requestId?: Maybe<Scalars['String']['output']>;
  type: Scalars['String']['output'];
  userAgent?: Maybe<Scalars['String']['output']>;
};

export type LoginPayload = {
  __typename?: 'LoginPayload';
  user: User;
};

/** A user's permission for an MCP server to hold their credentials for one service. */
export type McpGrant = {
  __typename?: 'McpGrant';
  grantedAt: Scalars['DateTime']['output'];
  serverId: Scalars['String']['output'];
  service: Scalars['String']['output'];
  userId: Scalars['String']['output'];
};

/** A registered MCP server (no secret: its signing secret is shown once, at registration). */
export type McpServer = {
  __typename?: 'McpServer';
  allowedServices: Array<Scalars['String']['output']>;
  /** Where its credential API is (administrators only). */
  baseUrl?: Maybe<Scalars['String']['output']>;
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['String']['output'];
  name: Scalars['String']['output'];
  removed: Scalars['Boolean']['output'];
  /** Holds every user's credentials for the allowed services, without per-user grants. */
  servesAllUsers: Scalars['Boolean']['output'];
};

/** How many credentials an MCP server's copy has in one sync state. */
export type McpSyncCount = {
  __typename?: 'McpSyncCount';
  count: Scalars['Int']['output'];
  serverId: Scalars['String']['output'];
  status: SyncStatus;
};

export type Me = {
  __typename?: 'Me';
  /** Your API tokens (never the tokens themselves). */
  apiTokens: Array<ApiToken>;
  displayName: Scalars['String']['output'];
  email: Scalars['String']['output'];
  id: Scalars['String']['output'];
  permissions: Array<Permission>;
  role: Role;
};

export type Mutation = {
  __typename?: 'Mutation';
  /** Checks a secret with its provider and keeps it only if the provider accepts it. */
  addCredential: AddCredentialPayload;
  /**
   * Changes an MCP server's services, audience or address (administrators); omitted
   * arguments keep their value. A server that serves every user without their grants can
   * only be narrowed or made to serve only those who grant it access here (`FORBIDDEN`
   * otherwise); the operator changes the rest with `credledger mcp change`.
   */
  changeMcpServer: McpServer;
  /** Changes your password (at least 12 characters); your other sessions end. */
  changePassword: Scalars['Boolean']['output'];
  /** Issues an API token for a machine client. The token is in this answer only. */
  createApiToken: CreatedApiToken;
  /**
   * Issues an MCP server an API token (administrators). The token is in this answer only.
   * A server that serves every user without their grants gets its tokens from the operator
   * (`credledger mcp token`); asked for here, the answer is `FORBIDDEN`.
   */
  createMcpServerToken: CreatedApiToken;
  /** Creates a person who can sign in (administrators). */
  createUser: User;
  /**
   * Erases a credential (its key is destroyed; its history stays). If it was the primary,
   * the oldest active credential of the same service becomes primary.
   */
  deleteCredential: DeleteCredentialPayload;
  /** Lets an MCP server hold your credentials for one service (and resolve them). */
  grantMcpAccess: McpGrant;
  grantPermission: User;
  /**
   * Locks a person out: no sign-in, sessions ended, tokens refused (administrators). Their
   * credentials are untouched: MCP servers that hold them, or may resolve them, go on
   * doing so until the credentials are revoked or erased, or the servers narrowed or removed
   * (grants are withdrawn by their owner only).
   */
  lockUser: User;
  /** Signs in with an email (or user id) and password; sets the session cookie. */
  login: LoginPayload;
  /** Ends this session and clears its cookie. */
  logout: Scalars['Boolean']['output'];
  /**
   * Registers an MCP server (administrators). Its signing secret is in this answer only. A
   * server that serves every user without their grants is registered by the operator
   * (`credledger mcp register --all-users`); asked for here, the answer is `FORBIDDEN`.
   */
  registerMcpServer: RegisteredMcpServer;
  /**
   * Removes an MCP server (administrators): its tokens stop working and its copies are
   * deleted from it.
   */
  removeMcpServer: Scalars['Boolean']['output'];
  /**
   * Resends an MCP server's copy (administrators): everything it may hold (after it lost
   * its data), or what changed at or after `fromPosition`. Answers the request's position.
   */
  replayMcpServer: Scalars['Int']['output'];
  /**
   * For machine clients (scope `credentials:resolve`): a user's primary active credential
   * for a service, or the active one named `name`. Recorded as `CredentialUsed` first.
   */
  resolveCredential: ResolvedCredential;
  /**
   * Asks the MCP servers again, now, for a credential whose copies failed (its owner, or
   * whoever may edit it), instead of at the sender's hourly retry (or, for a change the
   * sender does not send again by itself, its next change). Answers how many copies were
   * made due (0 when none had failed).
   */
  retrySync: Scalars['Int']['output'];
  /**
   * Checks a stored credential with its provider again. A provider that cannot be asked
   * changes nothing (`COULD_NOT_CHECK`).
   */
  revalidateCredential: RevalidateCredentialPayload;
  /**
   * Shows you your own secret. The disclosure is written to the ledger before this answer;
   * nobody else's secret is ever shown, whatever their permissions.
   */
  revealCredential: RevealedCredential;
  /** Revokes one of your API tokens. */
  revokeApiToken: Scalars['Boolean']['output'];
  /** Revokes a credential: it stays in the ledger but is no longer used. */
  revokeCredential: Credential;
  /** Revokes an MCP server's API token (administrators). */
  revokeMcpServerToken: Scalars['Boolean']['output'];
  revokePermission: User;
  /** Makes an active credential the primary one of its service. */
  setPrimaryCredential: Credential;
  /**
   * Starts connecting an account with OAuth 2.0 (Gmail, Google Calendar): answers the
   * provider's consent page to send the person to. A new credential is named `name`, or after
   * the account's email when none is given; `reconnect` gives an existing credential new
   * tokens instead (same account only). The flow is single use, bound to this session and
   * good for ten minutes; nothing is stored until the person comes back.
   */
  startOAuthConnection: StartOAuthConnectionPayload;
  /** Checks a secret with its provider without storing anything. Uses the live-check budget. */
  testCredential: TestCredentialResult;
  unlockUser: User;
  /**
   * Renames a credential, changes its labels, or replaces its secret (checked with the
   * provider first; refused and unchanged if the provider refuses it).
   */
  updateCredential: UpdateCredentialPayload;
  /**
   * Withdraws an MCP server's access to your credentials for one service: from this answer
   * on it can resolve none of them, and its copies are deleted from it.
   */
  withdrawMcpAccess: Scalars['Boolean']['output'];
};


export type MutationAddCredentialArgs = {
  input: AddCredentialInput;
};


export type MutationChangeMcpServerArgs = {
  allowedServices?: InputMaybe<Array<Scalars['String']['input']>>;
  baseUrl?: InputMaybe<Scalars['String']['input']>;
  id: Scalars['String']['input'];
  servesAllUsers?: InputMaybe<Scalars['Boolean']['input']>;
};


export type MutationChangePasswordArgs = {
  currentPassword: Scalars['String']['input'];
  newPassword: Scalars['String']['input'];
};


export type MutationCreateApiTokenArgs = {
  expiresAt?: InputMaybe<Scalars['DateTime']['input']>;
  name: Scalars['String']['input'];
  scopes: Array<Scope>;
};


export type MutationCreateMcpServerTokenArgs = {
  expiresAt?: InputMaybe<Scalars['DateTime']['input']>;
  name: Scalars['String']['input'];
  scopes: Array<Scope>;
  serverId: Scalars['String']['input'];
};


export type MutationCreateUserArgs = {
  input: CreateUserInput;
};


export type MutationDeleteCredentialArgs = {
  id: Scalars['ID']['input'];
};


export type MutationGrantMcpAccessArgs = {
  serverId: Scalars['String']['input'];
  service: Scalars['String']['input'];
};


export type MutationGrantPermissionArgs = {
  permission: Permission;
  userId: Scalars['String']['input'];
};


export type MutationLockUserArgs = {
  reason?: InputMaybe<Scalars['String']['input']>;
  userId: Scalars['String']['input'];
};


export type MutationLoginArgs = {
  login: Scalars['String']['input'];
  password: Scalars['String']['input'];
};


export type MutationRegisterMcpServerArgs = {
  input: RegisterMcpServerInput;
};


export type MutationRemoveMcpServerArgs = {
  id: Scalars['String']['input'];
};


export type MutationReplayMcpServerArgs = {
  fromPosition?: InputMaybe<Scalars['Int']['input']>;
  id: Scalars['String']['input'];
};


export type MutationResolveCredentialArgs = {
  name?: InputMaybe<Scalars['String']['input']>;
  service: Scalars['String']['input'];
  tool?: InputMaybe<Scalars['String']['input']>;
  userId: Scalars['String']['input'];
};


export type MutationRetrySyncArgs = {
  id: Scalars['ID']['input'];
};


export type MutationRevalidateCredentialArgs = {
  id: Scalars['ID']['input'];
};


export type MutationRevealCredentialArgs = {
  id: Scalars['ID']['input'];
};


export type MutationRevokeApiTokenArgs = {
  id: Scalars['ID']['input'];
};


export type MutationRevokeCredentialArgs = {
  id: Scalars['ID']['input'];
  reason?: InputMaybe<Scalars['String']['input']>;
};


export type MutationRevokeMcpServerTokenArgs = {
  id: Scalars['ID']['input'];
  serverId: Scalars['String']['input'];
};


export type MutationRevokePermissionArgs = {
  permission: Permission;
  userId: Scalars['String']['input'];
};


export type MutationSetPrimaryCredentialArgs = {
  id: Scalars['ID']['input'];
};


export type MutationStartOAuthConnectionArgs = {
  name?: InputMaybe<Scalars['String']['input']>;
  reconnect?: InputMaybe<Scalars['ID']['input']>;
  service: Scalars['String']['input'];
};


export type MutationTestCredentialArgs = {
  fields: Scalars['JSON']['input'];
  service: Scalars['String']['input'];
};


export type MutationUnlockUserArgs = {
  userId: Scalars['String']['input'];
};


export type MutationUpdateCredentialArgs = {
  id: Scalars['ID']['input'];
  input: UpdateCredentialInput;
};


export type MutationWithdrawMcpAccessArgs = {
  serverId: Scalars['String']['input'];
  service: Scalars['String']['input'];
};

export type PageInfo = {
  __typename?: 'PageInfo';
  endCursor?: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
};

export type Permission =
  /** `credentials.delete_all`: delete everyone's credentials. */
  | 'CREDENTIALS_DELETE_ALL'
  /** `credentials.edit_all`: change everyone's credentials (never read their secrets). */
  | 'CREDENTIALS_EDIT_ALL'
  /** `credentials.view_all`: see everyone's credential metadata. */
  | 'CREDENTIALS_VIEW_ALL';

export type Query = {
  __typename?: 'Query';
  /**
   * Everyone's credentials, metadata only (administrators and `credentials.view_all`), by
   * service then age, `first` (1–1,000) at a time: ask again with the last one's id as
   * `after` for the next ones; fewer than `first` is the end.
   */
  allCredentials: Array<Credential>;
  /**
   * The audit trail, newest first: yours; with `credentials.view_all` every credential's
   * too; an administrator's, all of it (people's accounts and MCP servers among it).
   */
  auditTrail: AuditConnection;
  /** One credential (yours, or anyone's metadata with `credentials.view_all`). */
  credential: Credential;
  /**
   * A credential's newest `last` events (1–1,000) before position `before`, in ledger
   * order, each with its hash in the chain: ask again with the first one's position as
   * `before` for the ones before it. Erased credentials keep their history. Read from the
   * `audit_trail` read model, which is not chained: evidence for an auditor is the chain
   * itself (`ledger export`, checked by `ledger verify`).
   */
  credentialHistory: Array<HistoryEvent>;
  /**
   * Your credentials, optionally for one service or in one status: all of them (at most
   * 200 of each service are kept).
   */
  credentials: Array<Credential>;
  /** Your credentials' counts. */
  dashboard: Dashboard;
  /** Your grants to MCP servers; administrators may ask for a server's (`serverId`). */
  mcpGrants: Array<McpGrant>;
  /**
   * Everyone who can sign in (administrators).
   * The MCP servers: every one for administrators; the live ones (to grant access to) for
   * everyone else.
   */
  mcpServers: Array<McpServer>;
  /** How many credentials each MCP server's copy has per sync state (administrators). */
  mcpSyncStatus: Array<McpSyncCount>;
  /** The signed-in person. */
  me: Me;
  /** The service catalog, in display order. */
  services: Array<Service>;
  /** The system at a glance (administrators). */
  systemMetrics: SystemMetrics;
  users: Array<User>;
};


export type QueryAllCredentialsArgs = {
  after?: InputMaybe<Scalars['ID']['input']>;
  first?: Scalars['Int']['input'];
  service?: InputMaybe<Scalars['String']['input']>;
  status?: InputMaybe<CredentialStatus>;
  userId?: InputMaybe<Scalars['String']['input']>;
};


export type QueryAuditTrailArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<AuditFilter>;
  first?: Scalars['Int']['input'];
};


export type QueryCredentialArgs = {
  id: Scalars['ID']['input'];
};


export type QueryCredentialHistoryArgs = {
  before?: InputMaybe<Scalars['Int']['input']>;
  id: Scalars['ID']['input'];
  last?: Scalars['Int']['input'];
};


export type QueryCredentialsArgs = {
  service?: InputMaybe<Scalars['String']['input']>;
  status?: InputMaybe<CredentialStatus>;
};


export type QueryMcpGrantsArgs = {
  serverId?: InputMaybe<Scalars['String']['input']>;
};

export type RegisterMcpServerInput = {
  allowedServices: Array<Scalars['String']['input']>;
  /** Where its credential API is (`POST {baseUrl}/credentials`, …). */
  baseUrl: Scalars['String']['input'];
  /** 1–64 of `A-Z a-z 0-9 . _ -`. */
  id: Scalars['String']['input'];
  name: Scalars['String']['input'];
  /**
   * Whether it holds every user's credentials without their grants: `true` is refused
   * (`FORBIDDEN`), such a server is the operator's (`credledger mcp register --all-users`).
   */
  servesAllUsers?: Scalars['Boolean']['input'];
};

/** A newly registered MCP server and the secret it verifies sync requests with (this once). */
export type RegisteredMcpServer = {
  __typename?: 'RegisteredMcpServer';
  server: McpServer;
  signingSecret: Scalars['String']['output'];
};

/** A credential resolved for a machine client at call time (recorded as `CredentialUsed`). */
export type ResolvedCredential = {
  __typename?: 'ResolvedCredential';
  credentialId: Scalars['ID']['output'];
  /**
   * When the secret expires, if it does: as the provider says (an OAuth access token
   * whose provider did not say is taken to live an hour).
   */
  expiresAt?: Maybe<Scalars['DateTime']['output']>;
  /**
   * The secret's fields, named as in the catalog; an OAuth credential the ledger refreshes
   * comes without its refresh token.
   */
  fields: Scalars['JSON']['output'];
  name: Scalars['String']['output'];
  service: Scalars['String']['output'];
  /** The secret's version: it changes when the secret is replaced or refreshed. */
  version: Scalars['Int']['output'];
};

export type RevalidateCredentialPayload = {
  __typename?: 'RevalidateCredentialPayload';
  credential: Credential;
  message?: Maybe<Scalars['String']['output']>;
  rateLimitRemaining: Scalars['Int']['output'];
  result: ValidationResult;
};

/** A secret shown to its owner. The disclosure is recorded in the ledger before this answer. */
export type RevealedCredential = {
  __typename?: 'RevealedCredential';
  credentialId: Scalars['ID']['output'];
  /** The secret's fields (a JSON object of strings). */
  fields: Scalars['JSON']['output'];
  revealedAt: Scalars['DateTime']['output'];
};

export type Role =
  | 'ADMIN'
  | 'MEMBER';

export type Scope =
  /** `credentials:read` */
  | 'CREDENTIALS_READ'
  /** `credentials:resolve` */
  | 'CREDENTIALS_RESOLVE'
  /** `ledger:read` */
  | 'LEDGER_READ';

/** A service of the catalog. */
export type Service = {
  __typename?: 'Service';
  authType: AuthType;
  beta: Scalars['Boolean']['output'];
  description: Scalars['String']['output'];
  displayName: Scalars['String']['output'];
  docsUrl: Scalars['String']['output'];
  enabled: Scalars['Boolean']['output'];
  fields: Array<ServiceField>;
  icon: Scalars['String']['output'];
  key: Scalars['String']['output'];
  multiAccount: Scalars['Boolean']['output'];
  /**
   * Whether a person connects this service with OAuth ("Connect with Google") on this
   * server: the service has an OAuth flow and the deployment has a client for it.
   */
  oauthAvailable: Scalars['Boolean']['output'];
  /**
   * Whose accounts an OAuth connection signs in with (`google`), for "Connect with Google";
   * null for services connected by pasting.
   */
  oauthProvider?: Maybe<Scalars['String']['output']>;
  /** The scopes an OAuth connection asks for (empty for services connected by pasting). */
  oauthScopes: Array<Scalars['String']['output']>;
  rateLimitPerHour?: Maybe<Scalars['Int']['output']>;
  rateLimitPerMinute?: Maybe<Scalars['Int']['output']>;
  revocation: Scalars['Boolean']['output'];
  tokenRefresh: Scalars['Boolean']['output'];
};

export type ServiceCounts = {
  __typename?: 'ServiceCounts';
  counts: CredentialCounts;
  service: Scalars['String']['output'];
};

/** One field of a service's credential. */
export type ServiceField = {
  __typename?: 'ServiceField';
  format?: Maybe<FieldFormat>;
  label: Scalars['String']['output'];
  name: Scalars['String']['output'];
  /** What the value looks like (for an empty input); never a real value. */
  placeholder?: Maybe<Scalars['String']['output']>;
  required: Scalars['Boolean']['output'];
  /** Secret fields are typed as passwords and never shown back. */
  secret: Scalars['Boolean']['output'];
};

export type StartOAuthConnectionPayload = {
  __typename?: 'StartOAuthConnectionPayload';
  /**
   * Where to send the person: the provider's consent page. It comes back to
   * `/oauth/callback`, which lands on the dashboard with `?oauth=connected&credential=<id>`
   * or `?oauth_error=<reason>`.
   */
  authorizationUrl: Scalars['String']['output'];
};

export type Subscription = {
  __typename?: 'Subscription';
  /**
   * Changes to your credentials as they happen: status, validation, primary, sync. It ends
   * with an `UNAVAILABLE` error when it fell behind and missed changes, and is refused with
   * one while the server cannot yet read the ledger (just after it started): subscribe again
   * and read the credentials afresh.
   */
  credentialChanged: CredentialChange;
};

/** Where a credential stands with the MCP servers that hold a copy. */
export type SyncStatus =
  | 'ERROR'
  | 'OUT_OF_SYNC'
  | 'PENDING'
  | 'SYNCED';

/** The system's health at a glance (admins). */
export type SystemMetrics = {
  __typename?: 'SystemMetrics';
  byService: Array<ServiceCounts>;
  /** The first of them (at most 100), soonest first: metadata only. */
  expiringCredentials: Array<Credential>;
  /** Active credentials expiring within the warning window, everyone's. */
  expiringSoon: Scalars['Int']['output'];
  /**
   * The credentials `failed_syncs` names that still exist (metadata only), to name them and
   * offer their retry; one erased since is absent.
   */
  failedSyncCredentials: Array<Credential>;
  failedSyncs: Array<AuditEvent>;
  recentValidations: Array<AuditEvent>;
  servicesConnected: Scalars['Int']['output'];
  totals: CredentialCounts;
  /**
   * Uses of credentials (resolves and reveals) per service and UTC day, over the last 14
   * days (today included), by day then service; days without a use are absent.
   */
  usageByService: Array<DailyServiceUses>;
  users: Scalars['Int']['output'];
};

/** What `testCredential` found. */
export type TestCredentialResult = {
  __typename?: 'TestCredentialResult';
  account?: Maybe<AccountIdentity>;
  /** The provider's message (invalid) or why it could not be asked. */
  message?: Maybe<Scalars['String']['output']>;
  /** Live checks left in this minute. */
  rateLimitRemaining: Scalars['Int']['output'];
  result: ValidationResult;
  scopes: Array<Scalars['String']['output']>;
};

export type UpdateCredentialInput = {
  /** A new secret: checked with the provider first, refused if the provider refuses it. */
  fields?: InputMaybe<Scalars['JSON']['input']>;
  metadata?: InputMaybe<Scalars['JSON']['input']>;
  name?: InputMaybe<Scalars['String']['input']>;
};

export type UpdateCredentialPayload = {
  __typename?: 'UpdateCredentialPayload';
  credential: Credential;
  /** Set when a new secret was checked. */
  rateLimitRemaining?: Maybe<Scalars['Int']['output']>;
};

/** A person who can sign in. */
export type User = {
  __typename?: 'User';
  createdAt: Scalars['DateTime']['output'];
  displayName: Scalars['String']['output'];
  email: Scalars['String']['output'];
  id: Scalars['String']['output'];
  locked: Scalars['Boolean']['output'];
  /** Explicit grants (admins hold every permission anyway). */
  permissions: Array<Permission>;
  role: Role;
};

/** The outcome of a live check with the provider. */
export type ValidationResult =
  /** The provider could not be asked; says nothing about the credential. */
  | 'COULD_NOT_CHECK'
  /** The provider refused the secret (its message says why). */
  | 'INVALID'
  | 'VALID';

export type ChangePasswordMutationVariables = Exact<{
  currentPassword: Scalars['String']['input'];
  newPassword: Scalars['String']['input'];
}>;


export type ChangePasswordMutation = { __typename?: 'Mutation', changePassword: boolean };

export type CreateApiTokenMutationVariables = Exact<{
  name: Scalars['String']['input'];
  scopes: Array<Scope> | Scope;
  expiresAt?: InputMaybe<Scalars['DateTime']['input']>;
}>;


export type CreateApiTokenMutation = { __typename?: 'Mutation', createApiToken: { __typename?: 'CreatedApiToken', token: string, apiToken: { __typename?: 'ApiToken', id: string, name: string } } };

export type RevokeApiTokenMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type RevokeApiTokenMutation = { __typename?: 'Mutation', revokeApiToken: boolean };

export type AccountPageQueryVariables = Exact<{ [key: string]: never; }>;


export type AccountPageQuery = { __typename?: 'Query', me: (
    { __typename?: 'Me', id: string, email: string, displayName: string, role: Role, permissions: Array<Permission> }
    & { ' $fragmentRefs'?: { 'ApiTokensCard_MeFragment': ApiTokensCard_MeFragment } }
  ) };

export type ApiTokensCard_MeFragment = { __typename?: 'Me', apiTokens: Array<{ __typename?: 'ApiToken', id: string, name: string, scopes: Array<Scope>, expiresAt?: string | null, revoked: boolean, createdAt: string }> } & { ' $fragmentName'?: 'ApiTokensCard_MeFragment' };

export type CreateUserMutationVariables = Exact<{
  input: CreateUserInput;
}>;


export type CreateUserMutation = { __typename?: 'Mutation', createUser: { __typename?: 'User', id: string, displayName: string } };

export type LockUserMutationVariables = Exact<{
  userId: Scalars['String']['input'];
  reason?: InputMaybe<Scalars['String']['input']>;
}>;


export type LockUserMutation = { __typename?: 'Mutation', lockUser: { __typename?: 'User', id: string, locked: boolean } };

export type UnlockUserMutationVariables = Exact<{
  userId: Scalars['String']['input'];
}>;


export type UnlockUserMutation = { __typename?: 'Mutation', unlockUser: { __typename?: 'User', id: string, locked: boolean } };

export type GrantPermissionMutationVariables = Exact<{
  userId: Scalars['String']['input'];
  permission: Permission;
}>;


export type GrantPermissionMutation = { __typename?: 'Mutation', grantPermission: { __typename?: 'User', id: string, permissions: Array<Permission> } };

export type RevokePermissionMutationVariables = Exact<{
  userId: Scalars['String']['input'];
  permission: Permission;
}>;


export type RevokePermissionMutation = { __typename?: 'Mutation', revokePermission: { __typename?: 'User', id: string, permissions: Array<Permission> } };

export type AdminAllCredentialsQueryVariables = Exact<{
  userId?: InputMaybe<Scalars['String']['input']>;
  service?: InputMaybe<Scalars['String']['input']>;
  status?: InputMaybe<CredentialStatus>;
  first: Scalars['Int']['input'];
  after?: InputMaybe<Scalars['ID']['input']>;
}>;


export type AdminAllCredentialsQuery = { __typename?: 'Query', services: Array<{ __typename?: 'Service', key: string, displayName: string }>, allCredentials: Array<{ __typename?: 'Credential', id: string, owner: string, service: string, name: string, status: CredentialStatus, isPrimary: boolean, lastValidatedAt?: string | null, lastUsedAt?: string | null, useCount: number, syncStatus?: SyncStatus | null, createdAt: string, account?: { __typename?: 'AccountIdentity', id: string, displayName?: string | null, email?: string | null } | null }> };

export type AdminRetrySyncMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type AdminRetrySyncMutation = { __typename?: 'Mutation', retrySync: number };

export type AdminSystemMetricsQueryVariables = Exact<{ [key: string]: never; }>;


export type AdminSystemMetricsQuery = { __typename?: 'Query', services: Array<{ __typename?: 'Service', key: string, displayName: string }>, systemMetrics: { __typename?: 'SystemMetrics', users: number, servicesConnected: number, expiringSoon: number, totals: { __typename?: 'CredentialCounts', total: number, active: number, inactive: number, invalid: number, expired: number, revoked: number, pendingSync: number, syncErrors: number }, byService: Array<{ __typename?: 'ServiceCounts', service: string, counts: { __typename?: 'CredentialCounts', total: number, active: number, invalid: number, expired: number, revoked: number, pendingSync: number, syncErrors: number } }>, recentValidations: Array<{ __typename?: 'AuditEvent', position: number, occurredAt: string, action: string, actor: string, userId?: string | null, service?: string | null, credentialId?: string | null, success: boolean, error?: string | null }>, expiringCredentials: Array<{ __typename?: 'Credential', id: string, owner: string, service: string, name: string, tokenExpiresAt?: string | null }>, failedSyncs: Array<{ __typename?: 'AuditEvent', position: number, occurredAt: string, action: string, userId?: string | null, service?: string | null, credentialId?: string | null, error?: string | null, context: Record<string, unknown> }>, failedSyncCredentials: Array<{ __typename?: 'Credential', id: string, name: string, syncStatus?: SyncStatus | null }>, usageByService: Array<{ __typename?: 'DailyServiceUses', service: string, day: string, uses: number }> } };

export type AdminUsersQueryVariables = Exact<{ [key: string]: never; }>;


export type AdminUsersQuery = { __typename?: 'Query', users: Array<{ __typename?: 'User', id: string, email: string, displayName: string, role: Role, permissions: Array<Permission>, locked: boolean, createdAt: string }> };

export type AuditPageQueryVariables = Exact<{
  filter?: InputMaybe<AuditFilter>;
  first: Scalars['Int']['input'];
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type AuditPageQuery = { __typename?: 'Query', services: Array<{ __typename?: 'Service', key: string, displayName: string }>, credentials: Array<{ __typename?: 'Credential', id: string, name: string }>, auditTrail: { __typename?: 'AuditConnection', edges: Array<{ __typename?: 'AuditEdge', cursor: string, node: { __typename?: 'AuditEvent', position: number, occurredAt: string, action: string, actor: string, credentialId?: string | null, service?: string | null, context: Record<string, unknown>, ip?: string | null, userAgent?: string | null, success: boolean, error?: string | null } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor?: string | null } } };

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { __typename?: 'Query', me: { __typename?: 'Me', id: string, email: string, displayName: string, role: Role, permissions: Array<Permission> } };

export type LoginMutationVariables = Exact<{
  login: Scalars['String']['input'];
  password: Scalars['String']['input'];
}>;


export type LoginMutation = { __typename?: 'Mutation', login: { __typename?: 'LoginPayload', user: { __typename?: 'User', id: string, displayName: string } } };

export type LogoutMutationVariables = Exact<{ [key: string]: never; }>;


export type LogoutMutation = { __typename?: 'Mutation', logout: boolean };

export type TestCredentialMutationVariables = Exact<{
  service: Scalars['String']['input'];
  fields: Scalars['JSON']['input'];
}>;


export type TestCredentialMutation = { __typename?: 'Mutation', testCredential: { __typename?: 'TestCredentialResult', result: ValidationResult, message?: string | null, scopes: Array<string>, rateLimitRemaining: number, account?: { __typename?: 'AccountIdentity', id: string, displayName?: string | null, email?: string | null } | null } };

export type AddCredentialMutationVariables = Exact<{
  input: AddCredentialInput;
}>;


export type AddCredentialMutation = { __typename?: 'Mutation', addCredential: { __typename?: 'AddCredentialPayload', rateLimitRemaining: number, credential: { __typename?: 'Credential', id: string, name: string, service: string, status: CredentialStatus, isPrimary: boolean } } };

export type UpdateCredentialMutationVariables = Exact<{
  id: Scalars['ID']['input'];
  input: UpdateCredentialInput;
}>;


export type UpdateCredentialMutation = { __typename?: 'Mutation', updateCredential: { __typename?: 'UpdateCredentialPayload', rateLimitRemaining?: number | null, credential: { __typename?: 'Credential', id: string, name: string, status: CredentialStatus, metadata: Record<string, unknown>, secretVersion: number } } };

export type DeleteCredentialMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type DeleteCredentialMutation = { __typename?: 'Mutation', deleteCredential: { __typename?: 'DeleteCredentialPayload', deletedId: string, newPrimary?: { __typename?: 'Credential', id: string, name: string, isPrimary: boolean } | null } };

export type SetPrimaryCredentialMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type SetPrimaryCredentialMutation = { __typename?: 'Mutation', setPrimaryCredential: { __typename?: 'Credential', id: string, isPrimary: boolean } };

export type RevalidateCredentialMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type RevalidateCredentialMutation = { __typename?: 'Mutation', revalidateCredential: { __typename?: 'RevalidateCredentialPayload', result: ValidationResult, message?: string | null, rateLimitRemaining: number, credential: { __typename?: 'Credential', id: string, status: CredentialStatus, lastValidatedAt?: string | null, validationError?: string | null } } };

export type RevokeCredentialMutationVariables = Exact<{
  id: Scalars['ID']['input'];
  reason?: InputMaybe<Scalars['String']['input']>;
}>;


export type RevokeCredentialMutation = { __typename?: 'Mutation', revokeCredential: { __typename?: 'Credential', id: string, status: CredentialStatus, isPrimary: boolean } };

export type RevealCredentialMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type RevealCredentialMutation = { __typename?: 'Mutation', revealCredential: { __typename?: 'RevealedCredential', credentialId: string, fields: Record<string, unknown>, revealedAt: string } };

export type RetrySyncMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type RetrySyncMutation = { __typename?: 'Mutation', retrySync: number };

export type StartOAuthConnectionMutationVariables = Exact<{
  service: Scalars['String']['input'];
  name?: InputMaybe<Scalars['String']['input']>;
  reconnect?: InputMaybe<Scalars['ID']['input']>;
}>;


export type StartOAuthConnectionMutation = { __typename?: 'Mutation', startOAuthConnection: { __typename?: 'StartOAuthConnectionPayload', authorizationUrl: string } };

export type AddCredentialDialog_ServiceFragment = { __typename?: 'Service', key: string, displayName: string, docsUrl: string, enabled: boolean, oauthAvailable: boolean, oauthProvider?: string | null, oauthScopes: Array<string>, fields: Array<{ __typename?: 'ServiceField', name: string, label: string, required: boolean, secret: boolean, format?: FieldFormat | null, placeholder?: string | null }> } & { ' $fragmentName'?: 'AddCredentialDialog_ServiceFragment' };

export type CredentialCard_CredentialFragment = { __typename?: 'Credential', id: string, owner: string, service: string, name: string, status: CredentialStatus, isPrimary: boolean, metadata: Record<string, unknown>, lastValidatedAt?: string | null, validationError?: string | null, lastUsedAt?: string | null, useCount: number, tokenExpiresAt?: string | null, scopes: Array<string>, syncStatus?: SyncStatus | null, lastSyncedAt?: string | null, syncError?: string | null, account?: { __typename?: 'AccountIdentity', id: string, displayName?: string | null, email?: string | null } | null } & { ' $fragmentName'?: 'CredentialCard_CredentialFragment' };

export type CredentialHistoryQueryVariables = Exact<{
  id: Scalars['ID']['input'];
  last: Scalars['Int']['input'];
}>;


export type CredentialHistoryQuery = { __typename?: 'Query', credentialHistory: Array<{ __typename?: 'HistoryEvent', position: number, type: string, occurredAt: string, actor: string, ip?: string | null, userAgent?: string | null, requestId?: string | null, payload: Record<string, unknown>, hash: string }> };

export type CredentialsPageQueryVariables = Exact<{ [key: string]: never; }>;


export type CredentialsPageQuery = { __typename?: 'Query', dashboard: (
    { __typename?: 'Dashboard' }
    & { ' $fragmentRefs'?: { 'StatsCards_DashboardFragment': StatsCards_DashboardFragment } }
  ), services: Array<(
    { __typename?: 'Service', key: string, displayName: string, enabled: boolean, oauthAvailable: boolean }
    & { ' $fragmentRefs'?: { 'ServiceCard_ServiceFragment': ServiceCard_ServiceFragment;'AddCredentialDialog_ServiceFragment': AddCredentialDialog_ServiceFragment } }
  )>, credentials: Array<(
    { __typename?: 'Credential', id: string, service: string, name: string, status: CredentialStatus, validationError?: string | null, tokenExpiresAt?: string | null, syncStatus?: SyncStatus | null, syncError?: string | null, account?: { __typename?: 'AccountIdentity', email?: string | null } | null }
    & { ' $fragmentRefs'?: { 'CredentialCard_CredentialFragment': CredentialCard_CredentialFragment } }
  )> };

export type ServiceCard_ServiceFragment = { __typename?: 'Service', key: string, displayName: string, description: string, icon: string, authType: AuthType, multiAccount: boolean, beta: boolean, oauthAvailable: boolean, oauthProvider?: string | null, oauthScopes: Array<string>, fields: Array<{ __typename?: 'ServiceField', name: string, label: string, required: boolean, secret: boolean, format?: FieldFormat | null, placeholder?: string | null }> } & { ' $fragmentName'?: 'ServiceCard_ServiceFragment' };

export type StatsCards_DashboardFragment = { __typename?: 'Dashboard', total: number, active: number, expired: number, expiringSoon: number, servicesConnected: number } & { ' $fragmentName'?: 'StatsCards_DashboardFragment' };

export type CredentialChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type CredentialChangedSubscription = { __typename?: 'Subscription', credentialChanged: { __typename?: 'CredentialChange', credentialId: string, action: string, position: number } };

export const ApiTokensCard_MeFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ApiTokensCard_Me"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Me"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"apiTokens"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"revoked"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}}]} as unknown as DocumentNode<ApiTokensCard_MeFragment, unknown>;
export const AddCredentialDialog_ServiceFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"AddCredentialDialog_Service"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Service"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"docsUrl"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"oauthAvailable"}},{"kind":"Field","name":{"kind":"Name","value":"oauthProvider"}},{"kind":"Field","name":{"kind":"Name","value":"oauthScopes"}},{"kind":"Field","name":{"kind":"Name","value":"fields"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"required"}},{"kind":"Field","name":{"kind":"Name","value":"secret"}},{"kind":"Field","name":{"kind":"Name","value":"format"}},{"kind":"Field","name":{"kind":"Name","value":"placeholder"}}]}}]}}]} as unknown as DocumentNode<AddCredentialDialog_ServiceFragment, unknown>;
export const CredentialCard_CredentialFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"CredentialCard_Credential"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Credential"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"owner"}},{"kind":"Field","name":{"kind":"Name","value":"service"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"isPrimary"}},{"kind":"Field","name":{"kind":"Name","value":"account"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"lastValidatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"validationError"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"tokenExpiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"syncStatus"}},{"kind":"Field","name":{"kind":"Name","value":"lastSyncedAt"}},{"kind":"Field","name":{"kind":"Name","value":"syncError"}}]}}]} as unknown as DocumentNode<CredentialCard_CredentialFragment, unknown>;
export const ServiceCard_ServiceFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ServiceCard_Service"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Service"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"icon"}},{"kind":"Field","name":{"kind":"Name","value":"authType"}},{"kind":"Field","name":{"kind":"Name","value":"multiAccount"}},{"kind":"Field","name":{"kind":"Name","value":"beta"}},{"kind":"Field","name":{"kind":"Name","value":"oauthAvailable"}},{"kind":"Field","name":{"kind":"Name","value":"oauthProvider"}},{"kind":"Field","name":{"kind":"Name","value":"oauthScopes"}},{"kind":"Field","name":{"kind":"Name","value":"fields"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"required"}},{"kind":"Field","name":{"kind":"Name","value":"secret"}},{"kind":"Field","name":{"kind":"Name","value":"format"}},{"kind":"Field","name":{"kind":"Name","value":"placeholder"}}]}}]}}]} as unknown as DocumentNode<ServiceCard_ServiceFragment, unknown>;
export const StatsCards_DashboardFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"StatsCards_Dashboard"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Dashboard"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"active"}},{"kind":"Field","name":{"kind":"Name","value":"expired"}},{"kind":"Field","name":{"kind":"Name","value":"expiringSoon"}},{"kind":"Field","name":{"kind":"Name","value":"servicesConnected"}}]}}]} as unknown as DocumentNode<StatsCards_DashboardFragment, unknown>;
export const ChangePasswordDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ChangePassword"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"currentPassword"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"newPassword"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"changePassword"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"currentPassword"},"value":{"kind":"Variable","name":{"kind":"Name","value":"currentPassword"}}},{"kind":"Argument","name":{"kind":"Name","value":"newPassword"},"value":{"kind":"Variable","name":{"kind":"Name","value":"newPassword"}}}]}]}}]} as unknown as DocumentNode<ChangePasswordMutation, ChangePasswordMutationVariables>;
export const CreateApiTokenDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateApiToken"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"name"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"scopes"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Scope"}}}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"expiresAt"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"DateTime"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createApiToken"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"name"},"value":{"kind":"Variable","name":{"kind":"Name","value":"name"}}},{"kind":"Argument","name":{"kind":"Name","value":"scopes"},"value":{"kind":"Variable","name":{"kind":"Name","value":"scopes"}}},{"kind":"Argument","name":{"kind":"Name","value":"expiresAt"},"value":{"kind":"Variable","name":{"kind":"Name","value":"expiresAt"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"token"}},{"kind":"Field","name":{"kind":"Name","value":"apiToken"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}}]} as unknown as DocumentNode<CreateApiTokenMutation, CreateApiTokenMutationVariables>;
export const RevokeApiTokenDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RevokeApiToken"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revokeApiToken"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}]}]}}]} as unknown as DocumentNode<RevokeApiTokenMutation, RevokeApiTokenMutationVariables>;
export const AccountPageDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"AccountPage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"permissions"}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"ApiTokensCard_Me"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ApiTokensCard_Me"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Me"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"apiTokens"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"revoked"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}}]} as unknown as DocumentNode<AccountPageQuery, AccountPageQueryVariables>;
export const CreateUserDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateUser"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateUserInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createUser"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}}]}}]}}]} as unknown as DocumentNode<CreateUserMutation, CreateUserMutationVariables>;
export const LockUserDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"LockUser"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"userId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"reason"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"lockUser"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"userId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"userId"}}},{"kind":"Argument","name":{"kind":"Name","value":"reason"},"value":{"kind":"Variable","name":{"kind":"Name","value":"reason"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"locked"}}]}}]}}]} as unknown as DocumentNode<LockUserMutation, LockUserMutationVariables>;
export const UnlockUserDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UnlockUser"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"userId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"unlockUser"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"userId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"userId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"locked"}}]}}]}}]} as unknown as DocumentNode<UnlockUserMutation, UnlockUserMutationVariables>;
export const GrantPermissionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"GrantPermission"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"userId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"permission"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Permission"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"grantPermission"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"userId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"userId"}}},{"kind":"Argument","name":{"kind":"Name","value":"permission"},"value":{"kind":"Variable","name":{"kind":"Name","value":"permission"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"permissions"}}]}}]}}]} as unknown as DocumentNode<GrantPermissionMutation, GrantPermissionMutationVariables>;
export const RevokePermissionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RevokePermission"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"userId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"permission"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Permission"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revokePermission"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"userId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"userId"}}},{"kind":"Argument","name":{"kind":"Name","value":"permission"},"value":{"kind":"Variable","name":{"kind":"Name","value":"permission"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"permissions"}}]}}]}}]} as unknown as DocumentNode<RevokePermissionMutation, RevokePermissionMutationVariables>;
export const AdminAllCredentialsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"AdminAllCredentials"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"userId"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"service"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"status"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"CredentialStatus"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"services"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}}]}},{"kind":"Field","name":{"kind":"Name","value":"allCredentials"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"userId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"userId"}}},{"kind":"Argument","name":{"kind":"Name","value":"service"},"value":{"kind":"Variable","name":{"kind":"Name","value":"service"}}},{"kind":"Argument","name":{"kind":"Name","value":"status"},"value":{"kind":"Variable","name":{"kind":"Name","value":"status"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"owner"}},{"kind":"Field","name":{"kind":"Name","value":"service"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"isPrimary"}},{"kind":"Field","name":{"kind":"Name","value":"account"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}},{"kind":"Field","name":{"kind":"Name","value":"lastValidatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"syncStatus"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}}]} as unknown as DocumentNode<AdminAllCredentialsQuery, AdminAllCredentialsQueryVariables>;
export const AdminRetrySyncDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"AdminRetrySync"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"retrySync"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}]}]}}]} as unknown as DocumentNode<AdminRetrySyncMutation, AdminRetrySyncMutationVariables>;
export const AdminSystemMetricsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"AdminSystemMetrics"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"services"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}}]}},{"kind":"Field","name":{"kind":"Name","value":"systemMetrics"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"users"}},{"kind":"Field","name":{"kind":"Name","value":"servicesConnected"}},{"kind":"Field","name":{"kind":"Name","value":"totals"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"active"}},{"kind":"Field","name":{"kind":"Name","value":"inactive"}},{"kind":"Field","name":{"kind":"Name","value":"invalid"}},{"kind":"Field","name":{"kind":"Name","value":"expired"}},{"kind":"Field","name":{"kind":"Name","value":"revoked"}},{"kind":"Field","name":{"kind":"Name","value":"pendingSync"}},{"kind":"Field","name":{"kind":"Name","value":"syncErrors"}}]}},{"kind":"Field","name":{"kind":"Name","value":"byService"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"service"}},{"kind":"Field","name":{"kind":"Name","value":"counts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"active"}},{"kind":"Field","name":{"kind":"Name","value":"invalid"}},{"kind":"Field","name":{"kind":"Name","value":"expired"}},{"kind":"Field","name":{"kind":"Name","value":"revoked"}},{"kind":"Field","name":{"kind":"Name","value":"pendingSync"}},{"kind":"Field","name":{"kind":"Name","value":"syncErrors"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"recentValidations"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"position"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"actor"}},{"kind":"Field","name":{"kind":"Name","value":"userId"}},{"kind":"Field","name":{"kind":"Name","value":"service"}},{"kind":"Field","name":{"kind":"Name","value":"credentialId"}},{"kind":"Field","name":{"kind":"Name","value":"success"}},{"kind":"Field","name":{"kind":"Name","value":"error"}}]}},{"kind":"Field","name":{"kind":"Name","value":"expiringSoon"}},{"kind":"Field","name":{"kind":"Name","value":"expiringCredentials"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"owner"}},{"kind":"Field","name":{"kind":"Name","value":"service"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"tokenExpiresAt"}}]}},{"kind":"Field","name":{"kind":"Name","value":"failedSyncs"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"position"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"userId"}},{"kind":"Field","name":{"kind":"Name","value":"service"}},{"kind":"Field","name":{"kind":"Name","value":"credentialId"}},{"kind":"Field","name":{"kind":"Name","value":"error"}},{"kind":"Field","name":{"kind":"Name","value":"context"}}]}},{"kind":"Field","name":{"kind":"Name","value":"failedSyncCredentials"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"syncStatus"}}]}},{"kind":"Field","name":{"kind":"Name","value":"usageByService"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"service"}},{"kind":"Field","name":{"kind":"Name","value":"day"}},{"kind":"Field","name":{"kind":"Name","value":"uses"}}]}}]}}]}}]} as unknown as DocumentNode<AdminSystemMetricsQuery, AdminSystemMetricsQueryVariables>;
export const AdminUsersDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"AdminUsers"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"users"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"permissions"}},{"kind":"Field","name":{"kind":"Name","value":"locked"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}}]} as unknown as DocumentNode<AdminUsersQuery, AdminUsersQueryVariables>;
export const AuditPageDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"AuditPage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"AuditFilter"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"services"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}}]}},{"kind":"Field","name":{"kind":"Name","value":"credentials"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"auditTrail"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"position"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"actor"}},{"kind":"Field","name":{"kind":"Name","value":"credentialId"}},{"kind":"Field","name":{"kind":"Name","value":"service"}},{"kind":"Field","name":{"kind":"Name","value":"context"}},{"kind":"Field","name":{"kind":"Name","value":"ip"}},{"kind":"Field","name":{"kind":"Name","value":"userAgent"}},{"kind":"Field","name":{"kind":"Name","value":"success"}},{"kind":"Field","name":{"kind":"Name","value":"error"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<AuditPageQuery, AuditPageQueryVariables>;
export const MeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"permissions"}}]}}]}}]} as unknown as DocumentNode<MeQuery, MeQueryVariables>;
export const LoginDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Login"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"login"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"password"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"login"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"login"},"value":{"kind":"Variable","name":{"kind":"Name","value":"login"}}},{"kind":"Argument","name":{"kind":"Name","value":"password"},"value":{"kind":"Variable","name":{"kind":"Name","value":"password"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"user"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}}]}}]}}]}}]} as unknown as DocumentNode<LoginMutation, LoginMutationVariables>;
export const LogoutDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Logout"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"logout"}}]}}]} as unknown as DocumentNode<LogoutMutation, LogoutMutationVariables>;
export const TestCredentialDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"TestCredential"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"service"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"fields"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"JSON"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"testCredential"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"service"},"value":{"kind":"Variable","name":{"kind":"Name","value":"service"}}},{"kind":"Argument","name":{"kind":"Name","value":"fields"},"value":{"kind":"Variable","name":{"kind":"Name","value":"fields"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"result"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"account"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"rateLimitRemaining"}}]}}]}}]} as unknown as DocumentNode<TestCredentialMutation, TestCredentialMutationVariables>;
export const AddCredentialDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"AddCredential"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"AddCredentialInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"addCredential"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"credential"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"service"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"isPrimary"}}]}},{"kind":"Field","name":{"kind":"Name","value":"rateLimitRemaining"}}]}}]}}]} as unknown as DocumentNode<AddCredentialMutation, AddCredentialMutationVariables>;
export const UpdateCredentialDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdateCredential"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UpdateCredentialInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updateCredential"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"credential"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"secretVersion"}}]}},{"kind":"Field","name":{"kind":"Name","value":"rateLimitRemaining"}}]}}]}}]} as unknown as DocumentNode<UpdateCredentialMutation, UpdateCredentialMutationVariables>;
export const DeleteCredentialDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DeleteCredential"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deleteCredential"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deletedId"}},{"kind":"Field","name":{"kind":"Name","value":"newPrimary"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"isPrimary"}}]}}]}}]}}]} as unknown as DocumentNode<DeleteCredentialMutation, DeleteCredentialMutationVariables>;
export const SetPrimaryCredentialDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SetPrimaryCredential"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"setPrimaryCredential"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"isPrimary"}}]}}]}}]} as unknown as DocumentNode<SetPrimaryCredentialMutation, SetPrimaryCredentialMutationVariables>;
export const RevalidateCredentialDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RevalidateCredential"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revalidateCredential"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"credential"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"lastValidatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"validationError"}}]}},{"kind":"Field","name":{"kind":"Name","value":"result"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"rateLimitRemaining"}}]}}]}}]} as unknown as DocumentNode<RevalidateCredentialMutation, RevalidateCredentialMutationVariables>;
export const RevokeCredentialDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RevokeCredential"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"reason"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revokeCredential"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"reason"},"value":{"kind":"Variable","name":{"kind":"Name","value":"reason"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"isPrimary"}}]}}]}}]} as unknown as DocumentNode<RevokeCredentialMutation, RevokeCredentialMutationVariables>;
export const RevealCredentialDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RevealCredential"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revealCredential"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"credentialId"}},{"kind":"Field","name":{"kind":"Name","value":"fields"}},{"kind":"Field","name":{"kind":"Name","value":"revealedAt"}}]}}]}}]} as unknown as DocumentNode<RevealCredentialMutation, RevealCredentialMutationVariables>;
export const RetrySyncDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RetrySync"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"retrySync"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}]}]}}]} as unknown as DocumentNode<RetrySyncMutation, RetrySyncMutationVariables>;
export const StartOAuthConnectionDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"StartOAuthConnection"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"service"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"name"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"reconnect"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"startOAuthConnection"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"service"},"value":{"kind":"Variable","name":{"kind":"Name","value":"service"}}},{"kind":"Argument","name":{"kind":"Name","value":"name"},"value":{"kind":"Variable","name":{"kind":"Name","value":"name"}}},{"kind":"Argument","name":{"kind":"Name","value":"reconnect"},"value":{"kind":"Variable","name":{"kind":"Name","value":"reconnect"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"authorizationUrl"}}]}}]}}]} as unknown as DocumentNode<StartOAuthConnectionMutation, StartOAuthConnectionMutationVariables>;
export const CredentialHistoryDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"CredentialHistory"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"last"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"credentialHistory"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"last"},"value":{"kind":"Variable","name":{"kind":"Name","value":"last"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"position"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}},{"kind":"Field","name":{"kind":"Name","value":"actor"}},{"kind":"Field","name":{"kind":"Name","value":"ip"}},{"kind":"Field","name":{"kind":"Name","value":"userAgent"}},{"kind":"Field","name":{"kind":"Name","value":"requestId"}},{"kind":"Field","name":{"kind":"Name","value":"payload"}},{"kind":"Field","name":{"kind":"Name","value":"hash"}}]}}]}}]} as unknown as DocumentNode<CredentialHistoryQuery, CredentialHistoryQueryVariables>;
export const CredentialsPageDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"CredentialsPage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"dashboard"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"StatsCards_Dashboard"}}]}},{"kind":"Field","name":{"kind":"Name","value":"services"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"oauthAvailable"}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"ServiceCard_Service"}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"AddCredentialDialog_Service"}}]}},{"kind":"Field","name":{"kind":"Name","value":"credentials"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"service"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"account"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"email"}}]}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"validationError"}},{"kind":"Field","name":{"kind":"Name","value":"tokenExpiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"syncStatus"}},{"kind":"Field","name":{"kind":"Name","value":"syncError"}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"CredentialCard_Credential"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"StatsCards_Dashboard"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Dashboard"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"active"}},{"kind":"Field","name":{"kind":"Name","value":"expired"}},{"kind":"Field","name":{"kind":"Name","value":"expiringSoon"}},{"kind":"Field","name":{"kind":"Name","value":"servicesConnected"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ServiceCard_Service"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Service"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"icon"}},{"kind":"Field","name":{"kind":"Name","value":"authType"}},{"kind":"Field","name":{"kind":"Name","value":"multiAccount"}},{"kind":"Field","name":{"kind":"Name","value":"beta"}},{"kind":"Field","name":{"kind":"Name","value":"oauthAvailable"}},{"kind":"Field","name":{"kind":"Name","value":"oauthProvider"}},{"kind":"Field","name":{"kind":"Name","value":"oauthScopes"}},{"kind":"Field","name":{"kind":"Name","value":"fields"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"required"}},{"kind":"Field","name":{"kind":"Name","value":"secret"}},{"kind":"Field","name":{"kind":"Name","value":"format"}},{"kind":"Field","name":{"kind":"Name","value":"placeholder"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"AddCredentialDialog_Service"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Service"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"docsUrl"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"oauthAvailable"}},{"kind":"Field","name":{"kind":"Name","value":"oauthProvider"}},{"kind":"Field","name":{"kind":"Name","value":"oauthScopes"}},{"kind":"Field","name":{"kind":"Name","value":"fields"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"label"}},{"kind":"Field","name":{"kind":"Name","value":"required"}},{"kind":"Field","name":{"kind":"Name","value":"secret"}},{"kind":"Field","name":{"kind":"Name","value":"format"}},{"kind":"Field","name":{"kind":"Name","value":"placeholder"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"CredentialCard_Credential"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Credential"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"owner"}},{"kind":"Field","name":{"kind":"Name","value":"service"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"isPrimary"}},{"kind":"Field","name":{"kind":"Name","value":"account"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"displayName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"lastValidatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"validationError"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}},{"kind":"Field","name":{"kind":"Name","value":"useCount"}},{"kind":"Field","name":{"kind":"Name","value":"tokenExpiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}},{"kind":"Field","name":{"kind":"Name","value":"syncStatus"}},{"kind":"Field","name":{"kind":"Name","value":"lastSyncedAt"}},{"kind":"Field","name":{"kind":"Name","value":"syncError"}}]}}]} as unknown as DocumentNode<CredentialsPageQuery, CredentialsPageQueryVariables>;
export const CredentialChangedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"CredentialChanged"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"credentialChanged"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"credentialId"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"position"}}]}}]}}]} as unknown as DocumentNode<CredentialChangedSubscription, CredentialChangedSubscriptionVariables>;