/**
 * The ONE module through which the portal's pages reach the calling SDK. callbridge's browser SDK mirrors the
 * Teams subset of ACS's `@azure/communication-calling` (with `@azure/communication-common`'s identifiers and
 * token credential), so swapping in Microsoft's SDK is a change of this file only: replace the dynamic import
 * with `export * from '@azure/communication-calling'` and `export * from '@azure/communication-common'` (bundled
 * or mapped by an import map served from this machine).
 *
 * The SDK's address comes from the shell's `<meta name="callbridge-sdk" content="https://.../sdk/calling.js">`
 * (the server knows where callbridge is); a dynamic import, so a page that cannot reach callbridge still shows
 * everything that needs no calling, with the reason in words.
 */
const meta = document.querySelector('meta[name="callbridge-sdk"]');
if (!meta?.content) throw new Error('This page does not say where the calling service is (no callbridge-sdk meta).');

let sdk;
try {
  sdk = await import(meta.content);
} catch (error) {
  throw new Error(`The calling service at ${new URL(meta.content).origin} cannot be reached (${error.message}).`);
}

export const {
  AzureCommunicationTokenCredential,
  CallClient,
  Features,
  createIdentifierFromRawId,
  getIdentifierRawId,
  isMicrosoftTeamsUserIdentifier,
  isPhoneNumberIdentifier,
} = sdk;
