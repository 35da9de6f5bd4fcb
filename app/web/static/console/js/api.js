// The console's only back end: Laurel's GraphQL API, with the key the user signed in with.
//
// The key lives in this tab's sessionStorage (gone when the tab closes) and travels only in the
// Authorization header of POST /graphql: never in a URL, so never in an access log. Documents
// are sent as automatic persisted queries (the hash first, the text once when the server does
// not know it yet), the same mechanism Apollo clients use, so the server's caches and plans hit.

const KEY_ITEM = "laurel.console.key";
const root = document.getElementById("console");
const GRAPHQL_PATH = (root && root.dataset.graphqlPath) || "/graphql";

export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export function storedKey() {
  return window.sessionStorage.getItem(KEY_ITEM);
}

export function storeKey(key) {
  window.sessionStorage.setItem(KEY_ITEM, key);
}

export function forgetKey() {
  window.sessionStorage.removeItem(KEY_ITEM);
}

const hashes = new Map();

async function sha256Hex(text) {
  if (!(window.crypto && window.crypto.subtle)) return null; // not a secure context
  let hash = hashes.get(text);
  if (hash === undefined) {
    const digest = await window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    hash = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    hashes.set(text, hash);
  }
  return hash;
}

let onUnauthenticated = () => {};
export function whenUnauthenticated(callback) {
  onUnauthenticated = callback;
}

async function post(body, key) {
  const response = await fetch(GRAPHQL_PATH, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (response.status === 401) {
    throw new ApiError("This key is not valid (or was revoked).", "UNAUTHENTICATED", 401);
  }
  if (!response.ok && !(payload && payload.data)) {
    const first = payload && payload.errors && payload.errors[0];
    throw new ApiError(
      (first && first.message) || `The API answered ${response.status}.`,
      first && first.extensions && first.extensions.code,
      response.status,
    );
  }
  return payload;
}

// Runs a document; resolves to `data`, rejects with the first top-level error.
export async function request(document, variables = {}, { key = storedKey() } = {}) {
  if (!key) throw new ApiError("Signed out.", "UNAUTHENTICATED", 401);
  const hash = await sha256Hex(document);
  let payload;
  try {
    if (hash !== null) {
      const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
      payload = await post({ variables, extensions }, key);
      const code = payload.errors && payload.errors[0] && payload.errors[0].extensions?.code;
      if (code === "PERSISTED_QUERY_NOT_FOUND") {
        payload = await post({ query: document, variables, extensions }, key);
      }
    } else {
      payload = await post({ query: document, variables }, key);
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) onUnauthenticated();
    throw error;
  }
  if (payload.errors && payload.errors.length) {
    const first = payload.errors[0];
    throw new ApiError(first.message, first.extensions && first.extensions.code, 200);
  }
  return payload.data;
}

// For mutations: resolves to the payload of `field`; its userErrors are for the form to show.
export async function mutate(document, field, input) {
  const data = await request(document, { input });
  return data[field];
}

export function newIdempotencyKey(prefix) {
  const random = window.crypto && window.crypto.randomUUID
    ? window.crypto.randomUUID()
    : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  return `console-${prefix}-${random}`;
}
