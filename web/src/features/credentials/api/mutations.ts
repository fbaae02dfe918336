import { graphql } from '@/gql';

export const TestCredentialMutation = graphql(`
  mutation TestCredential($service: String!, $fields: JSON!) {
    testCredential(service: $service, fields: $fields) {
      result
      message
      account {
        id
        displayName
        email
      }
      scopes
      rateLimitRemaining
    }
  }
`);

export const AddCredentialMutation = graphql(`
  mutation AddCredential($input: AddCredentialInput!) {
    addCredential(input: $input) {
      credential {
        id
        name
        service
        status
        isPrimary
      }
      rateLimitRemaining
    }
  }
`);

export const UpdateCredentialMutation = graphql(`
  mutation UpdateCredential($id: ID!, $input: UpdateCredentialInput!) {
    updateCredential(id: $id, input: $input) {
      credential {
        id
        name
        status
        metadata
        secretVersion
      }
      rateLimitRemaining
    }
  }
`);

export const DeleteCredentialMutation = graphql(`
  mutation DeleteCredential($id: ID!) {
    deleteCredential(id: $id) {
      deletedId
      newPrimary {
        id
        name
        isPrimary
      }
    }
  }
`);

export const SetPrimaryCredentialMutation = graphql(`
  mutation SetPrimaryCredential($id: ID!) {
    setPrimaryCredential(id: $id) {
      id
      isPrimary
    }
  }
`);

export const RevalidateCredentialMutation = graphql(`
  mutation RevalidateCredential($id: ID!) {
    revalidateCredential(id: $id) {
      credential {
        id
        status
        lastValidatedAt
        validationError
      }
      result
      message
      rateLimitRemaining
    }
  }
`);

export const RevokeCredentialMutation = graphql(`
  mutation RevokeCredential($id: ID!, $reason: String) {
    revokeCredential(id: $id, reason: $reason) {
      id
      status
      isPrimary
    }
  }
`);

export const RevealCredentialMutation = graphql(`
  mutation RevealCredential($id: ID!) {
    revealCredential(id: $id) {
      credentialId
      fields
      revealedAt
    }
  }
`);

export const RetrySyncMutation = graphql(`
  mutation RetrySync($id: ID!) {
    retrySync(id: $id)
  }
`);
