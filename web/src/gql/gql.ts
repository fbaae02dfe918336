/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n    changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n  }\n": typeof types.ChangePasswordDocument,
    "\n  mutation CreateApiToken($name: String!, $scopes: [Scope!]!, $expiresAt: DateTime) {\n    createApiToken(name: $name, scopes: $scopes, expiresAt: $expiresAt) {\n      token\n      apiToken {\n        id\n        name\n      }\n    }\n  }\n": typeof types.CreateApiTokenDocument,
    "\n  mutation RevokeApiToken($id: ID!) {\n    revokeApiToken(id: $id)\n  }\n": typeof types.RevokeApiTokenDocument,
    "\n  query AccountPage {\n    me {\n      id\n      email\n      displayName\n      role\n      permissions\n      ...ApiTokensCard_Me\n    }\n  }\n": typeof types.AccountPageDocument,
    "\n  fragment ApiTokensCard_Me on Me {\n    apiTokens {\n      id\n      name\n      scopes\n      expiresAt\n      revoked\n      createdAt\n    }\n  }\n": typeof types.ApiTokensCard_MeFragmentDoc,
    "\n  mutation CreateUser($input: CreateUserInput!) {\n    createUser(input: $input) {\n      id\n      displayName\n    }\n  }\n": typeof types.CreateUserDocument,
    "\n  mutation LockUser($userId: String!, $reason: String) {\n    lockUser(userId: $userId, reason: $reason) {\n      id\n      locked\n    }\n  }\n": typeof types.LockUserDocument,
    "\n  mutation UnlockUser($userId: String!) {\n    unlockUser(userId: $userId) {\n      id\n      locked\n    }\n  }\n": typeof types.UnlockUserDocument,
    "\n  mutation GrantPermission($userId: String!, $permission: Permission!) {\n    grantPermission(userId: $userId, permission: $permission) {\n      id\n      permissions\n    }\n  }\n": typeof types.GrantPermissionDocument,
    "\n  mutation RevokePermission($userId: String!, $permission: Permission!) {\n    revokePermission(userId: $userId, permission: $permission) {\n      id\n      permissions\n    }\n  }\n": typeof types.RevokePermissionDocument,
    "\n  query AdminAllCredentials(\n    $userId: String\n    $service: String\n    $status: CredentialStatus\n    $first: Int!\n    $after: ID\n  ) {\n    services {\n      key\n      displayName\n    }\n    allCredentials(userId: $userId, service: $service, status: $status, first: $first, after: $after) {\n      id\n      owner\n      service\n      name\n      status\n      isPrimary\n      account {\n        id\n        displayName\n        email\n      }\n      lastValidatedAt\n      lastUsedAt\n      useCount\n      syncStatus\n      createdAt\n    }\n  }\n": typeof types.AdminAllCredentialsDocument,
    "\n  mutation AdminRetrySync($id: ID!) {\n    retrySync(id: $id)\n  }\n": typeof types.AdminRetrySyncDocument,
    "\n  query AdminSystemMetrics {\n    services {\n      key\n      displayName\n    }\n    systemMetrics {\n      users\n      servicesConnected\n      totals {\n        total\n        active\n        inactive\n        invalid\n        expired\n        revoked\n        pendingSync\n        syncErrors\n      }\n      byService {\n        service\n        counts {\n          total\n          active\n          invalid\n          expired\n          revoked\n          pendingSync\n          syncErrors\n        }\n      }\n      recentValidations {\n        position\n        occurredAt\n        action\n        actor\n        userId\n        service\n        credentialId\n        success\n        error\n      }\n      expiringSoon\n      expiringCredentials {\n        id\n        owner\n        service\n        name\n        tokenExpiresAt\n      }\n      failedSyncs {\n        position\n        occurredAt\n        action\n        userId\n        service\n        credentialId\n        error\n        context\n      }\n      failedSyncCredentials {\n        id\n        name\n        syncStatus\n      }\n      usageByService {\n        service\n        day\n        uses\n      }\n    }\n  }\n": typeof types.AdminSystemMetricsDocument,
    "\n  query AdminUsers {\n    users {\n      id\n      email\n      displayName\n      role\n      permissions\n      locked\n      createdAt\n    }\n  }\n": typeof types.AdminUsersDocument,
    "\n  query AuditPage($filter: AuditFilter, $first: Int!, $after: String) {\n    services {\n      key\n      displayName\n    }\n    credentials {\n      id\n      name\n    }\n    auditTrail(filter: $filter, first: $first, after: $after) {\n      edges {\n        cursor\n        node {\n          position\n          occurredAt\n          action\n          actor\n          credentialId\n          service\n          context\n          ip\n          userAgent\n          success\n          error\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.AuditPageDocument,
    "\n  query Me {\n    me {\n      id\n      email\n      displayName\n      role\n      permissions\n    }\n  }\n": typeof types.MeDocument,
    "\n  mutation Login($login: String!, $password: String!) {\n    login(login: $login, password: $password) {\n      user {\n        id\n        displayName\n      }\n    }\n  }\n": typeof types.LoginDocument,
    "\n  mutation Logout {\n    logout\n  }\n": typeof types.LogoutDocument,
    "\n  mutation TestCredential($service: String!, $fields: JSON!) {\n    testCredential(service: $service, fields: $fields) {\n      result\n      message\n      account {\n        id\n        displayName\n        email\n      }\n      scopes\n      rateLimitRemaining\n    }\n  }\n": typeof types.TestCredentialDocument,
    "\n  mutation AddCredential($input: AddCredentialInput!) {\n    addCredential(input: $input) {\n      credential {\n        id\n        name\n        service\n        status\n        isPrimary\n      }\n      rateLimitRemaining\n    }\n  }\n": typeof types.AddCredentialDocument,
    "\n  mutation UpdateCredential($id: ID!, $input: UpdateCredentialInput!) {\n    updateCredential(id: $id, input: $input) {\n      credential {\n        id\n        name\n        status\n        metadata\n        secretVersion\n      }\n      rateLimitRemaining\n    }\n  }\n": typeof types.UpdateCredentialDocument,
    "\n  mutation DeleteCredential($id: ID!) {\n    deleteCredential(id: $id) {\n      deletedId\n      newPrimary {\n        id\n        name\n        isPrimary\n      }\n    }\n  }\n": typeof types.DeleteCredentialDocument,
    "\n  mutation SetPrimaryCredential($id: ID!) {\n    setPrimaryCredential(id: $id) {\n      id\n      isPrimary\n    }\n  }\n": typeof types.SetPrimaryCredentialDocument,
    "\n  mutation RevalidateCredential($id: ID!) {\n    revalidateCredential(id: $id) {\n      credential {\n        id\n        status\n        lastValidatedAt\n        validationError\n      }\n      result\n      message\n      rateLimitRemaining\n    }\n  }\n": typeof types.RevalidateCredentialDocument,
    "\n  mutation RevokeCredential($id: ID!, $reason: String) {\n    revokeCredential(id: $id, reason: $reason) {\n      id\n      status\n      isPrimary\n    }\n  }\n": typeof types.RevokeCredentialDocument,
    "\n  mutation RevealCredential($id: ID!) {\n    revealCredential(id: $id) {\n      credentialId\n      fields\n      revealedAt\n    }\n  }\n": typeof types.RevealCredentialDocument,
    "\n  mutation RetrySync($id: ID!) {\n    retrySync(id: $id)\n  }\n": typeof types.RetrySyncDocument,
    "\n  mutation StartOAuthConnection($service: String!, $name: String, $reconnect: ID) {\n    startOAuthConnection(service: $service, name: $name, reconnect: $reconnect) {\n      authorizationUrl\n    }\n  }\n": typeof types.StartOAuthConnectionDocument,
    "\n  fragment AddCredentialDialog_Service on Service {\n    key\n    displayName\n    docsUrl\n    enabled\n    oauthAvailable\n    oauthProvider\n    oauthScopes\n    fields {\n      name\n      label\n      required\n      secret\n      format\n      placeholder\n    }\n  }\n": typeof types.AddCredentialDialog_ServiceFragmentDoc,
    "\n  fragment CredentialCard_Credential on Credential {\n    id\n    owner\n    service\n    name\n    status\n    isPrimary\n    account {\n      id\n      displayName\n      email\n    }\n    metadata\n    lastValidatedAt\n    validationError\n    lastUsedAt\n    useCount\n    tokenExpiresAt\n    scopes\n    syncStatus\n    lastSyncedAt\n    syncError\n  }\n": typeof types.CredentialCard_CredentialFragmentDoc,
    "\n  query CredentialHistory($id: ID!, $last: Int!) {\n    credentialHistory(id: $id, last: $last) {\n      position\n      type\n      occurredAt\n      actor\n      ip\n      userAgent\n      requestId\n      payload\n      hash\n    }\n  }\n": typeof types.CredentialHistoryDocument,
    "\n  query CredentialsPage {\n    dashboard {\n      ...StatsCards_Dashboard\n    }\n    services {\n      key\n      displayName\n      enabled\n      oauthAvailable\n      ...ServiceCard_Service\n      ...AddCredentialDialog_Service\n    }\n    credentials {\n      id\n      service\n      name\n      account {\n        email\n      }\n      status\n      validationError\n      tokenExpiresAt\n      syncStatus\n      syncError\n      ...CredentialCard_Credential\n    }\n  }\n": typeof types.CredentialsPageDocument,
    "\n  fragment ServiceCard_Service on Service {\n    key\n    displayName\n    description\n    icon\n    authType\n    multiAccount\n    beta\n    oauthAvailable\n    oauthProvider\n    oauthScopes\n    fields {\n      name\n      label\n      required\n      secret\n      format\n      placeholder\n    }\n  }\n": typeof types.ServiceCard_ServiceFragmentDoc,
    "\n  fragment StatsCards_Dashboard on Dashboard {\n    total\n    active\n    expired\n    expiringSoon\n    servicesConnected\n  }\n": typeof types.StatsCards_DashboardFragmentDoc,
    "\n  subscription CredentialChanged {\n    credentialChanged {\n      credentialId\n      action\n      position\n    }\n  }\n": typeof types.CredentialChangedDocument,
};
const documents: Documents = {
    "\n  mutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n    changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n  }\n": types.ChangePasswordDocument,
    "\n  mutation CreateApiToken($name: String!, $scopes: [Scope!]!, $expiresAt: DateTime) {\n    createApiToken(name: $name, scopes: $scopes, expiresAt: $expiresAt) {\n      token\n      apiToken {\n        id\n        name\n      }\n    }\n  }\n": types.CreateApiTokenDocument,
    "\n  mutation RevokeApiToken($id: ID!) {\n    revokeApiToken(id: $id)\n  }\n": types.RevokeApiTokenDocument,
    "\n  query AccountPage {\n    me {\n      id\n      email\n      displayName\n      role\n      permissions\n      ...ApiTokensCard_Me\n    }\n  }\n": types.AccountPageDocument,
    "\n  fragment ApiTokensCard_Me on Me {\n    apiTokens {\n      id\n      name\n      scopes\n      expiresAt\n      revoked\n      createdAt\n    }\n  }\n": types.ApiTokensCard_MeFragmentDoc,
    "\n  mutation CreateUser($input: CreateUserInput!) {\n    createUser(input: $input) {\n      id\n      displayName\n    }\n  }\n": types.CreateUserDocument,
    "\n  mutation LockUser($userId: String!, $reason: String) {\n    lockUser(userId: $userId, reason: $reason) {\n      id\n      locked\n    }\n  }\n": types.LockUserDocument,
    "\n  mutation UnlockUser($userId: String!) {\n    unlockUser(userId: $userId) {\n      id\n      locked\n    }\n  }\n": types.UnlockUserDocument,
    "\n  mutation GrantPermission($userId: String!, $permission: Permission!) {\n    grantPermission(userId: $userId, permission: $permission) {\n      id\n      permissions\n    }\n  }\n": types.GrantPermissionDocument,
    "\n  mutation RevokePermission($userId: String!, $permission: Permission!) {\n    revokePermission(userId: $userId, permission: $permission) {\n      id\n      permissions\n    }\n  }\n": types.RevokePermissionDocument,
    "\n  query AdminAllCredentials(\n    $userId: String\n    $service: String\n    $status: CredentialStatus\n    $first: Int!\n    $after: ID\n  ) {\n    services {\n      key\n      displayName\n    }\n    allCredentials(userId: $userId, service: $service, status: $status, first: $first, after: $after) {\n      id\n      owner\n      service\n      name\n      status\n      isPrimary\n      account {\n        id\n        displayName\n        email\n      }\n      lastValidatedAt\n      lastUsedAt\n      useCount\n      syncStatus\n      createdAt\n    }\n  }\n": types.AdminAllCredentialsDocument,
    "\n  mutation AdminRetrySync($id: ID!) {\n    retrySync(id: $id)\n  }\n": types.AdminRetrySyncDocument,
    "\n  query AdminSystemMetrics {\n    services {\n      key\n      displayName\n    }\n    systemMetrics {\n      users\n      servicesConnected\n      totals {\n        total\n        active\n        inactive\n        invalid\n        expired\n        revoked\n        pendingSync\n        syncErrors\n      }\n      byService {\n        service\n        counts {\n          total\n          active\n          invalid\n          expired\n          revoked\n          pendingSync\n          syncErrors\n        }\n      }\n      recentValidations {\n        position\n        occurredAt\n        action\n        actor\n        userId\n        service\n        credentialId\n        success\n        error\n      }\n      expiringSoon\n      expiringCredentials {\n        id\n        owner\n        service\n        name\n        tokenExpiresAt\n      }\n      failedSyncs {\n        position\n        occurredAt\n        action\n        userId\n        service\n        credentialId\n        error\n        context\n      }\n      failedSyncCredentials {\n        id\n        name\n        syncStatus\n      }\n      usageByService {\n        service\n        day\n        uses\n      }\n    }\n  }\n": types.AdminSystemMetricsDocument,
    "\n  query AdminUsers {\n    users {\n      id\n      email\n      displayName\n      role\n      permissions\n      locked\n      createdAt\n    }\n  }\n": types.AdminUsersDocument,
    "\n  query AuditPage($filter: AuditFilter, $first: Int!, $after: String) {\n    services {\n      key\n      displayName\n    }\n    credentials {\n      id\n      name\n    }\n    auditTrail(filter: $filter, first: $first, after: $after) {\n      edges {\n        cursor\n        node {\n          position\n          occurredAt\n          action\n          actor\n          credentialId\n          service\n          context\n          ip\n          userAgent\n          success\n          error\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.AuditPageDocument,
    "\n  query Me {\n    me {\n      id\n      email\n      displayName\n      role\n      permissions\n    }\n  }\n": types.MeDocument,
    "\n  mutation Login($login: String!, $password: String!) {\n    login(login: $login, password: $password) {\n      user {\n        id\n        displayName\n      }\n    }\n  }\n": types.LoginDocument,
    "\n  mutation Logout {\n    logout\n  }\n": types.LogoutDocument,
    "\n  mutation TestCredential($service: String!, $fields: JSON!) {\n    testCredential(service: $service, fields: $fields) {\n      result\n      message\n      account {\n        id\n        displayName\n        email\n      }\n      scopes\n      rateLimitRemaining\n    }\n  }\n": types.TestCredentialDocument,
    "\n  mutation AddCredential($input: AddCredentialInput!) {\n    addCredential(input: $input) {\n      credential {\n        id\n        name\n        service\n        status\n        isPrimary\n      }\n      rateLimitRemaining\n    }\n  }\n": types.AddCredentialDocument,
    "\n  mutation UpdateCredential($id: ID!, $input: UpdateCredentialInput!) {\n    updateCredential(id: $id, input: $input) {\n      credential {\n        id\n        name\n        status\n        metadata\n        secretVersion\n      }\n      rateLimitRemaining\n    }\n  }\n": types.UpdateCredentialDocument,
    "\n  mutation DeleteCredential($id: ID!) {\n    deleteCredential(id: $id) {\n      deletedId\n      newPrimary {\n        id\n        name\n        isPrimary\n      }\n    }\n  }\n": types.DeleteCredentialDocument,
    "\n  mutation SetPrimaryCredential($id: ID!) {\n    setPrimaryCredential(id: $id) {\n      id\n      isPrimary\n    }\n  }\n": types.SetPrimaryCredentialDocument,
    "\n  mutation RevalidateCredential($id: ID!) {\n    revalidateCredential(id: $id) {\n      credential {\n        id\n        status\n        lastValidatedAt\n        validationError\n      }\n      result\n      message\n      rateLimitRemaining\n    }\n  }\n": types.RevalidateCredentialDocument,
    "\n  mutation RevokeCredential($id: ID!, $reason: String) {\n    revokeCredential(id: $id, reason: $reason) {\n      id\n      status\n      isPrimary\n    }\n  }\n": types.RevokeCredentialDocument,
    "\n  mutation RevealCredential($id: ID!) {\n    revealCredential(id: $id) {\n      credentialId\n      fields\n      revealedAt\n    }\n  }\n": types.RevealCredentialDocument,
    "\n  mutation RetrySync($id: ID!) {\n    retrySync(id: $id)\n  }\n": types.RetrySyncDocument,
    "\n  mutation StartOAuthConnection($service: String!, $name: String, $reconnect: ID) {\n    startOAuthConnection(service: $service, name: $name, reconnect: $reconnect) {\n      authorizationUrl\n    }\n  }\n": types.StartOAuthConnectionDocument,
    "\n  fragment AddCredentialDialog_Service on Service {\n    key\n    displayName\n    docsUrl\n    enabled\n    oauthAvailable\n    oauthProvider\n    oauthScopes\n    fields {\n      name\n      label\n      required\n      secret\n      format\n      placeholder\n    }\n  }\n": types.AddCredentialDialog_ServiceFragmentDoc,
    "\n  fragment CredentialCard_Credential on Credential {\n    id\n    owner\n    service\n    name\n    status\n    isPrimary\n    account {\n      id\n      displayName\n      email\n    }\n    metadata\n    lastValidatedAt\n    validationError\n    lastUsedAt\n    useCount\n    tokenExpiresAt\n    scopes\n    syncStatus\n    lastSyncedAt\n    syncError\n  }\n": types.CredentialCard_CredentialFragmentDoc,
    "\n  query CredentialHistory($id: ID!, $last: Int!) {\n    credentialHistory(id: $id, last: $last) {\n      position\n      type\n      occurredAt\n      actor\n      ip\n      userAgent\n      requestId\n      payload\n      hash\n    }\n  }\n": types.CredentialHistoryDocument,
    "\n  query CredentialsPage {\n    dashboard {\n      ...StatsCards_Dashboard\n    }\n    services {\n      key\n      displayName\n      enabled\n      oauthAvailable\n      ...ServiceCard_Service\n      ...AddCredentialDialog_Service\n    }\n    credentials {\n      id\n      service\n      name\n      account {\n        email\n      }\n      status\n      validationError\n      tokenExpiresAt\n      syncStatus\n      syncError\n      ...CredentialCard_Credential\n    }\n  }\n": types.CredentialsPageDocument,
    "\n  fragment ServiceCard_Service on Service {\n    key\n    displayName\n    description\n    icon\n    authType\n    multiAccount\n    beta\n    oauthAvailable\n    oauthProvider\n    oauthScopes\n    fields {\n      name\n      label\n      required\n      secret\n      format\n      placeholder\n    }\n  }\n": types.ServiceCard_ServiceFragmentDoc,
    "\n  fragment StatsCards_Dashboard on Dashboard {\n    total\n    active\n    expired\n    expiringSoon\n    servicesConnected\n  }\n": types.StatsCards_DashboardFragmentDoc,
    "\n  subscription CredentialChanged {\n    credentialChanged {\n      credentialId\n      action\n      position\n    }\n  }\n": types.CredentialChangedDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n    changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n  }\n"): (typeof documents)["\n  mutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n    changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateApiToken($name: String!, $scopes: [Scope!]!, $expiresAt: DateTime) {\n    createApiToken(name: $name, scopes: $scopes, expiresAt: $expiresAt) {\n      token\n      apiToken {\n        id\n        name\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateApiToken($name: String!, $scopes: [Scope!]!, $expiresAt: DateTime) {\n    createApiToken(name: $name, scopes: $scopes, expiresAt: $expiresAt) {\n      token\n      apiToken {\n        id\n        name\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeApiToken($id: ID!) {\n    revokeApiToken(id: $id)\n  }\n"): (typeof documents)["\n  mutation RevokeApiToken($id: ID!) {\n    revokeApiToken(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AccountPage {\n    me {\n      id\n      email\n      displayName\n      role\n      permissions\n      ...ApiTokensCard_Me\n    }\n  }\n"): (typeof documents)["\n  query AccountPage {\n    me {\n      id\n      email\n      displayName\n      role\n      permissions\n      ...ApiTokensCard_Me\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment ApiTokensCard_Me on Me {\n    apiTokens {\n      id\n      name\n      scopes\n      expiresAt\n      revoked\n      createdAt\n    }\n  }\n"): (typeof documents)["\n  fragment ApiTokensCard_Me on Me {\n    apiTokens {\n      id\n      name\n      scopes\n      expiresAt\n      revoked\n      createdAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateUser($input: CreateUserInput!) {\n    createUser(input: $input) {\n      id\n      displayName\n    }\n  }\n"): (typeof documents)["\n  mutation CreateUser($input: CreateUserInput!) {\n    createUser(input: $input) {\n      id\n      displayName\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LockUser($userId: String!, $reason: String) {\n    lockUser(userId: $userId, reason: $reason) {\n      id\n      locked\n    }\n  }\n"): (typeof documents)["\n  mutation LockUser($userId: String!, $reason: String) {\n    lockUser(userId: $userId, reason: $reason) {\n      id\n      locked\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UnlockUser($userId: String!) {\n    unlockUser(userId: $userId) {\n      id\n      locked\n    }\n  }\n"): (typeof documents)["\n  mutation UnlockUser($userId: String!) {\n    unlockUser(userId: $userId) {\n      id\n      locked\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation GrantPermission($userId: String!, $permission: Permission!) {\n    grantPermission(userId: $userId, permission: $permission) {\n      id\n      permissions\n    }\n  }\n"): (typeof documents)["\n  mutation GrantPermission($userId: String!, $permission: Permission!) {\n    grantPermission(userId: $userId, permission: $permission) {\n      id\n      permissions\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokePermission($userId: String!, $permission: Permission!) {\n    revokePermission(userId: $userId, permission: $permission) {\n      id\n      permissions\n    }\n  }\n"): (typeof documents)["\n  mutation RevokePermission($userId: String!, $permission: Permission!) {\n    revokePermission(userId: $userId, permission: $permission) {\n      id\n      permissions\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AdminAllCredentials(\n    $userId: String\n    $service: String\n    $status: CredentialStatus\n    $first: Int!\n    $after: ID\n  ) {\n    services {\n      key\n      displayName\n    }\n    allCredentials(userId: $userId, service: $service, status: $status, first: $first, after: $after) {\n      id\n      owner\n      service\n      name\n      status\n      isPrimary\n      account {\n        id\n        displayName\n        email\n      }\n      lastValidatedAt\n      lastUsedAt\n      useCount\n      syncStatus\n      createdAt\n    }\n  }\n"): (typeof documents)["\n  query AdminAllCredentials(\n    $userId: String\n    $service: String\n    $status: CredentialStatus\n    $first: Int!\n    $after: ID\n  ) {\n    services {\n      key\n      displayName\n    }\n    allCredentials(userId: $userId, service: $service, status: $status, first: $first, after: $after) {\n      id\n      owner\n      service\n      name\n      status\n      isPrimary\n      account {\n        id\n        displayName\n        email\n      }\n      lastValidatedAt\n      lastUsedAt\n      useCount\n      syncStatus\n      createdAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AdminRetrySync($id: ID!) {\n    retrySync(id: $id)\n  }\n"): (typeof documents)["\n  mutation AdminRetrySync($id: ID!) {\n    retrySync(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AdminSystemMetrics {\n    services {\n      key\n      displayName\n    }\n    systemMetrics {\n      users\n      servicesConnected\n      totals {\n        total\n        active\n        inactive\n        invalid\n        expired\n        revoked\n        pendingSync\n        syncErrors\n      }\n      byService {\n        service\n        counts {\n          total\n          active\n          invalid\n          expired\n          revoked\n          pendingSync\n          syncErrors\n        }\n      }\n      recentValidations {\n        position\n        occurredAt\n        action\n        actor\n        userId\n        service\n        credentialId\n        success\n        error\n      }\n      expiringSoon\n      expiringCredentials {\n        id\n        owner\n        service\n        name\n        tokenExpiresAt\n      }\n      failedSyncs {\n        position\n        occurredAt\n        action\n        userId\n        service\n        credentialId\n        error\n        context\n      }\n      failedSyncCredentials {\n        id\n        name\n        syncStatus\n      }\n      usageByService {\n        service\n        day\n        uses\n      }\n    }\n  }\n"): (typeof documents)["\n  query AdminSystemMetrics {\n    services {\n      key\n      displayName\n    }\n    systemMetrics {\n      users\n      servicesConnected\n      totals {\n        total\n        active\n        inactive\n        invalid\n        expired\n        revoked\n        pendingSync\n        syncErrors\n      }\n      byService {\n        service\n        counts {\n          total\n          active\n          invalid\n          expired\n          revoked\n          pendingSync\n          syncErrors\n        }\n      }\n      recentValidations {\n        position\n        occurredAt\n        action\n        actor\n        userId\n        service\n        credentialId\n        success\n        error\n      }\n      expiringSoon\n      expiringCredentials {\n        id\n        owner\n        service\n        name\n        tokenExpiresAt\n      }\n      failedSyncs {\n        position\n        occurredAt\n        action\n        userId\n        service\n        credentialId\n        error\n        context\n      }\n      failedSyncCredentials {\n        id\n        name\n        syncStatus\n      }\n      usageByService {\n        service\n        day\n        uses\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AdminUsers {\n    users {\n      id\n      email\n      displayName\n      role\n      permissions\n      locked\n      createdAt\n    }\n  }\n"): (typeof documents)["\n  query AdminUsers {\n    users {\n      id\n      email\n      displayName\n      role\n      permissions\n      locked\n      createdAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AuditPage($filter: AuditFilter, $first: Int!, $after: String) {\n    services {\n      key\n      displayName\n    }\n    credentials {\n      id\n      name\n    }\n    auditTrail(filter: $filter, first: $first, after: $after) {\n      edges {\n        cursor\n        node {\n          position\n          occurredAt\n          action\n          actor\n          credentialId\n          service\n          context\n          ip\n          userAgent\n          success\n          error\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): (typeof documents)["\n  query AuditPage($filter: AuditFilter, $first: Int!, $after: String) {\n    services {\n      key\n      displayName\n    }\n    credentials {\n      id\n      name\n    }\n    auditTrail(filter: $filter, first: $first, after: $after) {\n      edges {\n        cursor\n        node {\n          position\n          occurredAt\n          action\n          actor\n          credentialId\n          service\n          context\n          ip\n          userAgent\n          success\n          error\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Me {\n    me {\n      id\n      email\n      displayName\n      role\n      permissions\n    }\n  }\n"): (typeof documents)["\n  query Me {\n    me {\n      id\n      email\n      displayName\n      role\n      permissions\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Login($login: String!, $password: String!) {\n    login(login: $login, password: $password) {\n      user {\n        id\n        displayName\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation Login($login: String!, $password: String!) {\n    login(login: $login, password: $password) {\n      user {\n        id\n        displayName\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Logout {\n    logout\n  }\n"): (typeof documents)["\n  mutation Logout {\n    logout\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation TestCredential($service: String!, $fields: JSON!) {\n    testCredential(service: $service, fields: $fields) {\n      result\n      message\n      account {\n        id\n        displayName\n        email\n      }\n      scopes\n      rateLimitRemaining\n    }\n  }\n"): (typeof documents)["\n  mutation TestCredential($service: String!, $fields: JSON!) {\n    testCredential(service: $service, fields: $fields) {\n      result\n      message\n      account {\n        id\n        displayName\n        email\n      }\n      scopes\n      rateLimitRemaining\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddCredential($input: AddCredentialInput!) {\n    addCredential(input: $input) {\n      credential {\n        id\n        name\n        service\n        status\n        isPrimary\n      }\n      rateLimitRemaining\n    }\n  }\n"): (typeof documents)["\n  mutation AddCredential($input: AddCredentialInput!) {\n    addCredential(input: $input) {\n      credential {\n        id\n        name\n        service\n        status\n        isPrimary\n      }\n      rateLimitRemaining\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateCredential($id: ID!, $input: UpdateCredentialInput!) {\n    updateCredential(id: $id, input: $input) {\n      credential {\n        id\n        name\n        status\n        metadata\n        secretVersion\n      }\n      rateLimitRemaining\n    }\n  }\n"): (typeof documents)["\n  mutation UpdateCredential($id: ID!, $input: UpdateCredentialInput!) {\n    updateCredential(id: $id, input: $input) {\n      credential {\n        id\n        name\n        status\n        metadata\n        secretVersion\n      }\n      rateLimitRemaining\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteCredential($id: ID!) {\n    deleteCredential(id: $id) {\n      deletedId\n      newPrimary {\n        id\n        name\n        isPrimary\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation DeleteCredential($id: ID!) {\n    deleteCredential(id: $id) {\n      deletedId\n      newPrimary {\n        id\n        name\n        isPrimary\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SetPrimaryCredential($id: ID!) {\n    setPrimaryCredential(id: $id) {\n      id\n      isPrimary\n    }\n  }\n"): (typeof documents)["\n  mutation SetPrimaryCredential($id: ID!) {\n    setPrimaryCredential(id: $id) {\n      id\n      isPrimary\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevalidateCredential($id: ID!) {\n    revalidateCredential(id: $id) {\n      credential {\n        id\n        status\n        lastValidatedAt\n        validationError\n      }\n      result\n      message\n      rateLimitRemaining\n    }\n  }\n"): (typeof documents)["\n  mutation RevalidateCredential($id: ID!) {\n    revalidateCredential(id: $id) {\n      credential {\n        id\n        status\n        lastValidatedAt\n        validationError\n      }\n      result\n      message\n      rateLimitRemaining\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeCredential($id: ID!, $reason: String) {\n    revokeCredential(id: $id, reason: $reason) {\n      id\n      status\n      isPrimary\n    }\n  }\n"): (typeof documents)["\n  mutation RevokeCredential($id: ID!, $reason: String) {\n    revokeCredential(id: $id, reason: $reason) {\n      id\n      status\n      isPrimary\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevealCredential($id: ID!) {\n    revealCredential(id: $id) {\n      credentialId\n      fields\n      revealedAt\n    }\n  }\n"): (typeof documents)["\n  mutation RevealCredential($id: ID!) {\n    revealCredential(id: $id) {\n      credentialId\n      fields\n      revealedAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RetrySync($id: ID!) {\n    retrySync(id: $id)\n  }\n"): (typeof documents)["\n  mutation RetrySync($id: ID!) {\n    retrySync(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartOAuthConnection($service: String!, $name: String, $reconnect: ID) {\n    startOAuthConnection(service: $service, name: $name, reconnect: $reconnect) {\n      authorizationUrl\n    }\n  }\n"): (typeof documents)["\n  mutation StartOAuthConnection($service: String!, $name: String, $reconnect: ID) {\n    startOAuthConnection(service: $service, name: $name, reconnect: $reconnect) {\n      authorizationUrl\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment AddCredentialDialog_Service on Service {\n    key\n    displayName\n    docsUrl\n    enabled\n    oauthAvailable\n    oauthProvider\n    oauthScopes\n    fields {\n      name\n      label\n      required\n      secret\n      format\n      placeholder\n    }\n  }\n"): (typeof documents)["\n  fragment AddCredentialDialog_Service on Service {\n    key\n    displayName\n    docsUrl\n    enabled\n    oauthAvailable\n    oauthProvider\n    oauthScopes\n    fields {\n      name\n      label\n      required\n      secret\n      format\n      placeholder\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment CredentialCard_Credential on Credential {\n    id\n    owner\n    service\n    name\n    status\n    isPrimary\n    account {\n      id\n      displayName\n      email\n    }\n    metadata\n    lastValidatedAt\n    validationError\n    lastUsedAt\n    useCount\n    tokenExpiresAt\n    scopes\n    syncStatus\n    lastSyncedAt\n    syncError\n  }\n"): (typeof documents)["\n  fragment CredentialCard_Credential on Credential {\n    id\n    owner\n    service\n    name\n    status\n    isPrimary\n    account {\n      id\n      displayName\n      email\n    }\n    metadata\n    lastValidatedAt\n    validationError\n    lastUsedAt\n    useCount\n    tokenExpiresAt\n    scopes\n    syncStatus\n    lastSyncedAt\n    syncError\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CredentialHistory($id: ID!, $last: Int!) {\n    credentialHistory(id: $id, last: $last) {\n      position\n      type\n      occurredAt\n      actor\n      ip\n      userAgent\n      requestId\n      payload\n      hash\n    }\n  }\n"): (typeof documents)["\n  query CredentialHistory($id: ID!, $last: Int!) {\n    credentialHistory(id: $id, last: $last) {\n      position\n      type\n      occurredAt\n      actor\n      ip\n      userAgent\n      requestId\n      payload\n      hash\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CredentialsPage {\n    dashboard {\n      ...StatsCards_Dashboard\n    }\n    services {\n      key\n      displayName\n      enabled\n      oauthAvailable\n      ...ServiceCard_Service\n      ...AddCredentialDialog_Service\n    }\n    credentials {\n      id\n      service\n      name\n      account {\n        email\n      }\n      status\n      validationError\n      tokenExpiresAt\n      syncStatus\n      syncError\n      ...CredentialCard_Credential\n    }\n  }\n"): (typeof documents)["\n  query CredentialsPage {\n    dashboard {\n      ...StatsCards_Dashboard\n    }\n    services {\n      key\n      displayName\n      enabled\n      oauthAvailable\n      ...ServiceCard_Service\n      ...AddCredentialDialog_Service\n    }\n    credentials {\n      id\n      service\n      name\n      account {\n        email\n      }\n      status\n      validationError\n      tokenExpiresAt\n      syncStatus\n      syncError\n      ...CredentialCard_Credential\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment ServiceCard_Service on Service {\n    key\n    displayName\n    description\n    icon\n    authType\n    multiAccount\n    beta\n    oauthAvailable\n    oauthProvider\n    oauthScopes\n    fields {\n      name\n      label\n      required\n      secret\n      format\n      placeholder\n    }\n  }\n"): (typeof documents)["\n  fragment ServiceCard_Service on Service {\n    key\n    displayName\n    description\n    icon\n    authType\n    multiAccount\n    beta\n    oauthAvailable\n    oauthProvider\n    oauthScopes\n    fields {\n      name\n      label\n      required\n      secret\n      format\n      placeholder\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment StatsCards_Dashboard on Dashboard {\n    total\n    active\n    expired\n    expiringSoon\n    servicesConnected\n  }\n"): (typeof documents)["\n  fragment StatsCards_Dashboard on Dashboard {\n    total\n    active\n    expired\n    expiringSoon\n    servicesConnected\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription CredentialChanged {\n    credentialChanged {\n      credentialId\n      action\n      position\n    }\n  }\n"): (typeof documents)["\n  subscription CredentialChanged {\n    credentialChanged {\n      credentialId\n      action\n      position\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;