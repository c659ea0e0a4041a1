// Use case 2's incoming-call handler exactly as ACS's page prints it: `args.teamsIncomingCall` is not what ACS's
// TeamsCallAgent hands its listener (`{incomingCall}`), so tsc refuses this file against ACS's declarations and
// against callbridge's alike (tests/interop/test_sdk_types.py).
import { CallerInfo, TeamsCallAgent, TeamsIncomingCall } from '@azure/communication-calling';

declare function showIncomingCall(callerInfo: CallerInfo, incomingCall: TeamsIncomingCall): void;

export function subscribe(callAgent: TeamsCallAgent): void {
const incomingCallHandler = async (args: { teamsIncomingCall: TeamsIncomingCall }) => {
    
    const incomingCall = args.teamsIncomingCall;
    
    // Get information about caller
    var callerInfo = incomingCall.callerInfo
    
    showIncomingCall(callerInfo,incomingCall);
};
callAgent.on('incomingCall', incomingCallHandler);
}
