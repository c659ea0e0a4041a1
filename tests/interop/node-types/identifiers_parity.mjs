// callbridge's identifier helpers beside @azure/communication-common's own, on the same inputs: prints one JSON
// line {callbridge, common} per case for tests/interop/test_sdk_types.py to compare. The SDK module loads in Node
// (nothing browser-only runs at import).
import * as common from '@azure/communication-common';

const sdk = await import(process.argv[2]);

const RAW_IDS = [
  '8:orgid:45ab2481-1c1c-4005-be24-0ffb879b1130', '8:dod:45ab2481', '8:gcch:45ab2481', '8:teamsvisitor:45ab2481',
  '8:acs:resource_user', '8:acs:resource_tenant_user', '8:dod-acs:r_t_u', '8:gcch-acs:r', '8:spool:whatever',
  '28:orgid:app', '28:dod:app', '28:gcch:app', '4:+14255550123', '4:anonymous', '4:+14255550123_207ffef6',
  '4:207ffef6_', '48:unknown', '8:orgid:a:b', 'not-a-raw-id', '8:orgid:',
];
const IDENTIFIERS = [
  { microsoftTeamsUserId: 'oid' }, { microsoftTeamsUserId: 'oid', cloud: 'dod' },
  { microsoftTeamsUserId: 'oid', isAnonymous: true }, { microsoftTeamsUserId: 'oid', rawId: '8:orgid:other' },
  { phoneNumber: '+14255550123' }, { phoneNumber: '+1', rawId: '4:+1_x' }, { communicationUserId: '8:acs:r_u' },
  { teamsAppId: 'app', cloud: 'gcch' }, { userId: 'u', tenantId: 't', resourceId: 'r', cloud: 'dod' },
  { id: '48:unknown' },
];

const withoutRawId = ({ rawId, ...rest }) => rest; // callbridge's identifiers also carry their rawId
const drop = (value) => JSON.parse(JSON.stringify(value)); // undefined fields as absent, as JSON sends them

for (const rawId of RAW_IDS) {
  const callbridge = sdk.createIdentifierFromRawId(rawId);
  console.log(JSON.stringify({ case: `createIdentifierFromRawId(${rawId})`, callbridge: drop(withoutRawId(callbridge)),
    common: drop(common.createIdentifierFromRawId(rawId)), rawIdKept: callbridge.rawId === undefined
      || callbridge.rawId === rawId }));
}
for (const identifier of IDENTIFIERS) {
  console.log(JSON.stringify({ case: `getIdentifierRawId(${JSON.stringify(identifier)})`,
    callbridge: sdk.getIdentifierRawId(identifier), common: common.getIdentifierRawId(identifier), rawIdKept: true }));
  console.log(JSON.stringify({ case: `getIdentifierKind(${JSON.stringify(identifier)})`,
    callbridge: drop(sdk.getIdentifierKind(identifier)), common: drop(common.getIdentifierKind(identifier)),
    rawIdKept: true }));
}
