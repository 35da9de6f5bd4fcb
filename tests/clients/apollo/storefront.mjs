// A storefront as a shop's developer writes it with Apollo Client 4: automatic persisted queries
// sent by GET, `errorPolicy: "all"`, relay pagination through the cache, a redemption.
// tests/clients/test_apollo_storefront.py runs it against a live Laurel and checks the report it
// prints as one JSON line: what the client saw, and every HTTP exchange it made.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { relayStylePagination } from "@apollo/client/utilities";

const url = process.env.LAUREL_URL;
const headers = {
  authorization: `Bearer ${process.env.LAUREL_KEY}`,
  "x-member-token": process.env.LAUREL_MEMBER_TOKEN,
  "apollographql-client-name": "laurel-storefront-check",
  "apollographql-client-version": "1.0.0",
};

// Every exchange, in order, so the test can check the protocol (methods, codes, hash-only GETs).
const exchanges = [];
async function recordingFetch(input, init) {
  const response = await fetch(input, init);
  const target = new URL(typeof input === "string" ? input : input.url);
  const body = typeof init?.body === "string" ? JSON.parse(init.body) : null;
  exchanges.push({
    method: init?.method ?? "GET",
    status: response.status,
    contentType: response.headers.get("content-type"),
    sentQuery: Boolean(target.searchParams.get("query") || body?.query),
    sentHash: Boolean(
      target.searchParams.get("extensions")?.includes("sha256Hash") ||
        body?.extensions?.persistedQuery?.sha256Hash,
    ),
  });
  return response;
}

// Laurel's documented typePolicies (docs/api.md), or Apollo's defaults when none are given.
function typePolicies() {
  const path = process.env.LAUREL_TYPE_POLICIES;
  if (!path) return {};
  const documented = JSON.parse(readFileSync(path, "utf8"));
  const policies = {};
  for (const [typeName, policy] of Object.entries(documented)) {
    const fields = {};
    for (const [fieldName, fieldPolicy] of Object.entries(policy.fields ?? {})) {
      fields[fieldName] =
        "relayStylePagination" in fieldPolicy ? relayStylePagination(fieldPolicy.relayStylePagination) : fieldPolicy;
    }
    policies[typeName] = { ...policy, fields };
  }
  return policies;
}

function client() {
  const persisted = new PersistedQueryLink({
    sha256: (text) => createHash("sha256").update(text).digest("hex"),
    useGETForHashedQueries: true,
  });
  return new ApolloClient({
    link: persisted.concat(new HttpLink({ uri: url, headers, fetch: recordingFetch })),
    cache: new InMemoryCache({ typePolicies: typePolicies() }),
    defaultOptions: { query: { errorPolicy: "all" }, watchQuery: { errorPolicy: "all" } },
  });
}

const MEMBER = gql`
  query StorefrontMember($first: Int, $after: String) {
    me {
      id
      customerId
      points { available lifetimeRedeemed }
      availableRewards { id name }
      activity(first: $first, after: $after) {
        edges { cursor node { id kind points } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
`;

const REDEEM = gql`
  mutation StorefrontRedeem($input: RedeemRewardInput!) {
    redeemReward(input: $input) {
      redemption { id pointsSpent }
      userErrors { code field message }
    }
  }
`;

function errorsOf(error) {
  return (error?.errors ?? []).map((e) => ({ message: e.message, path: e.path ?? null, code: e.extensions?.code ?? null }));
}

const report = {};
const storefront = client();

// First page: the persisted-query link sends the hash alone by GET, then registers the document.
const first = await storefront.query({ query: MEMBER, variables: { first: 2 } });
report.firstPage = { data: first.data, errors: errorsOf(first.error) };
report.exchangesAfterFirstPage = exchanges.length;

// The same query from a second client (a new page load): the hash alone must be enough now.
const reload = await client().query({ query: MEMBER, variables: { first: 2 } });
report.reload = { data: reload.data, errors: errorsOf(reload.error) };

// The next page through fetchMore: relayStylePagination merges it into the cached list.
const watched = storefront.watchQuery({ query: MEMBER, variables: { first: 2 } });
const subscription = watched.subscribe(() => {});
await watched.refetch();
const cursor = first.data.me.activity.pageInfo.endCursor;
await watched.fetchMore({ variables: { after: cursor } });
report.merged = storefront.readQuery({ query: MEMBER, variables: { first: 2 } });
subscription.unsubscribe();

// A stale cursor: with errorPolicy "all" the error names the connection and `me` survives.
const stale = await client().query({
  query: MEMBER,
  variables: { first: 2, after: "not-a-cursor" },
  fetchPolicy: "no-cache",
});
report.staleCursor = { data: stale.data ?? null, errors: errorsOf(stale.error) };

// A redemption, sent twice with one idempotency key (a retried tap): one spend.
const reward = first.data.me.availableRewards[0];
if (reward) {
  const input = { memberId: first.data.me.id, rewardId: reward.id, idempotencyKey: "storefront-check-1" };
  const once = await storefront.mutate({ mutation: REDEEM, variables: { input } });
  const again = await storefront.mutate({ mutation: REDEEM, variables: { input } });
  const after = await storefront.query({ query: MEMBER, variables: { first: 2 }, fetchPolicy: "network-only" });
  report.redemption = {
    first: once.data?.redeemReward ?? null,
    replay: again.data?.redeemReward ?? null,
    pointsBefore: first.data.me.points.available,
    pointsAfter: after.data.me.points.available,
  };
}

report.exchanges = exchanges;
process.stdout.write(`${JSON.stringify(report)}\n`);
