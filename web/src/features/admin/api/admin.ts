import { graphql } from '@/gql';

export const CreateUserMutation = graphql(`
  mutation CreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      id
      displayName
    }
  }
`);

export const LockUserMutation = graphql(`
  mutation LockUser($userId: String!, $reason: String) {
    lockUser(userId: $userId, reason: $reason) {
      id
      locked
    }
  }
`);

export const UnlockUserMutation = graphql(`
  mutation UnlockUser($userId: String!) {
    unlockUser(userId: $userId) {
      id
      locked
    }
  }
`);

export const GrantPermissionMutation = graphql(`
  mutation GrantPermission($userId: String!, $permission: Permission!) {
    grantPermission(userId: $userId, permission: $permission) {
      id
      permissions
    }
  }
`);

export const RevokePermissionMutation = graphql(`
  mutation RevokePermission($userId: String!, $permission: Permission!) {
    revokePermission(userId: $userId, permission: $permission) {
      id
      permissions
    }
  }
`);

/**
 * Queries listing users are read again (network-only) after any answer to a change of one, a
 * refusal included: urql's document cache invalidates a mutation's `additionalTypenames`
 * whatever it answered, so after a CONFLICT or NOT_FOUND (another administrator got there
 * first) the row shows what the server has now.
 */
export const userContext = { additionalTypenames: ['User'] };
