// Node relying parties, unchanged, driven by the interop tests over JSON lines on stdin/stdout: one request
// ({"op": ..., ...}) per line in, one answer ({"ok": ...} or {"error": ...}) per line out. MSAL for Node keeps
// one confidential client application (and so one token cache) for the life of the process; openid-client
// (which validates the hybrid flow's id_token: signature, issuer, audience, nonce, c_hash) is made per call.
// The server's CA comes from NODE_EXTRA_CA_CERTS.
"use strict";

const readline = require("node:readline");
const msal = require("@azure/msal-node");
const { Issuer } = require("openid-client");

let app = null;

function decode(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
}

function summary(result) {
  return {
    accessToken: result.accessToken,
    fromCache: result.fromCache,
    tenantId: result.tenantId,
    scopes: result.scopes,
    claims: decode(result.accessToken),
    account: result.account,
  };
}

async function findAccount(homeAccountId) {
  const account = await app.getTokenCache().getAccountByHomeId(homeAccountId);
  if (!account) throw new Error(`no account ${homeAccountId} in the cache`);
  return account;
}

async function openidClient(req) {
  const issuer = await Issuer.discover(req.issuer);
  return new issuer.Client({
    client_id: req.clientId,
    client_secret: req.clientSecret,
    redirect_uris: [req.redirectUri],
    response_types: ["code id_token"],
  });
}

const ops = {
  async msalApp(req) {
    app = new msal.ConfidentialClientApplication({
      auth: {
        clientId: req.clientId,
        clientSecret: req.clientSecret,
        authority: req.authority,
        knownAuthorities: [new URL(req.authority).host],
      },
    });
    return {};
  },
  async clientCredentials(req) {
    return summary(await app.acquireTokenByClientCredential({ scopes: req.scopes, authority: req.authority }));
  },
  async authCodeUrl(req) {
    return {
      url: await app.getAuthCodeUrl({
        scopes: req.scopes, redirectUri: req.redirectUri, authority: req.authority, state: req.state,
      }),
    };
  },
  async redeem(req) {
    return summary(await app.acquireTokenByCode({
      code: req.code, scopes: req.scopes, redirectUri: req.redirectUri, authority: req.authority,
    }));
  },
  async silent(req) {
    const account = await findAccount(req.homeAccountId);
    return summary(await app.acquireTokenSilent({ account, scopes: req.scopes, authority: req.authority }));
  },
  async dropAccessTokens() {
    const store = app.getTokenCache().getKVStore();  // the live in-memory cache: stale tokens, gone
    for (const [key, entity] of Object.entries(store)) {
      if (entity && entity.credentialType === "AccessToken") delete store[key];
    }
    return {};
  },
  async hybridUrl(req) {
    const client = await openidClient(req);
    return {
      url: client.authorizationUrl({
        scope: req.scope, response_type: "code id_token", response_mode: "form_post", nonce: req.nonce,
        state: req.state,
      }),
    };
  },
  async hybridCallback(req) {
    const client = await openidClient(req);
    const tokens = await client.callback(req.redirectUri, req.params, {
      nonce: req.nonce, state: req.state, response_type: "code id_token",
    });
    return { idTokenClaims: tokens.claims(), accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
  },
};

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const req = JSON.parse(line);
  let answer;
  try {
    answer = { ok: await ops[req.op](req) };
  } catch (err) {
    answer = { error: String(err && (err.errorCode || err.error || err.message) || err), detail: String(err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
