import { graphql } from '@/gql';

export const MeQuery = graphql(`
  query Me {
    me {
      id
      email
      displayName
      role
      permissions
    }
  }
`);

export const LoginMutation = graphql(`
  mutation Login($login: String!, $password: String!) {
    login(login: $login, password: $password) {
      user {
        id
        displayName
      }
    }
  }
`);

export const LogoutMutation = graphql(`
  mutation Logout {
    logout
  }
`);
