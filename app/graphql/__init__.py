"""The GraphQL API: translation only. Resolvers decode input, call one service, wrap the result."""
