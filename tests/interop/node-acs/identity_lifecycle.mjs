// Microsoft's JavaScript communication identity client, unchanged, through a communication user's life and a
// Teams user's token exchange. Reads {connectionString, teamsUserAadToken, clientId, userObjectId} as JSON on
// stdin; writes what the client saw as JSON on stdout (errors as {name, statusCode, code}), for the pytest side
// to judge. Trusts the server's CA through NODE_EXTRA_CA_CERTS.
import { CommunicationIdentityClient } from "@azure/communication-identity";
import { getIdentifierRawId } from "@azure/communication-common";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function seenToken(accessToken) {
  const { token, expiresOn } = accessToken;
  return { token, expiresOn: expiresOn instanceof Date ? expiresOn.toISOString() : String(expiresOn) };
}

async function seenError(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return { name: error.name, statusCode: error.statusCode ?? null, code: error.code ?? null,
             message: String(error.message) };
  }
}

const input = await readStdin();
const client = new CommunicationIdentityClient(input.connectionString);
const seen = {};

const user = await client.createUser();
seen.user = { communicationUserId: user.communicationUserId, rawId: getIdentifierRawId(user) };
seen.token = seenToken(await client.getToken(user, ["chat", "voip"]));
seen.teamsUser = seenToken(await client.getTokenForTeamsUser({
  teamsUserAadToken: input.teamsUserAadToken, clientId: input.clientId, userObjectId: input.userObjectId }));
seen.tooShortLifetime = await seenError(client.getToken(user, ["chat"], { tokenExpiresInMinutes: 10 }));
seen.revoked = (await client.revokeTokens(user)) ?? null;
seen.deleted = (await client.deleteUser(user)) ?? null;
seen.afterDelete = await seenError(client.getToken(user, ["chat"]));

process.stdout.write(JSON.stringify(seen));
