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

/** Queries listing users refetch after any change to one. */
export const userContext = { additionalTypenames: ['User'] };
