// A small soft phone written against ACS's `@azure/communication-calling` and `@azure/communication-common` and
// nothing else: it places calls to Teams users and phone numbers, receives them, holds, resumes, mutes, sends a
// tone, hangs up, and joins a meeting by its link. tsc checks it against ACS's declarations and against
// callbridge's (/sdk/calling.d.ts); compiled once, it runs in Chromium against callbridge with an import map that
// sends both package names to /sdk/calling.js (tests/browser/test_browser_acs_app.py).
import {
    CallClient, CallEndReason, CallState, DeviceManager, Features, RemoteParticipant, TeamsCall, TeamsCallAgent,
    TeamsIncomingCall, TeamsMeetingLinkLocator,
} from '@azure/communication-calling';
import {
    AzureCommunicationTokenCredential, CommunicationIdentifierKind, MicrosoftTeamsUserIdentifier, PhoneNumberIdentifier,
} from '@azure/communication-common';

/** What the phone shows of a call. */
export interface CallView {
    id: string;
    state: CallState;
    direction: string;
    isMuted: boolean;
    threadId: string | undefined;
    callEndReason: { code: number; subCode: number | undefined } | undefined;
    remote: { who: string; displayName: string | undefined; state: string; isMuted: boolean }[];
    canUnmute: boolean;
    canTurnVideoOn: boolean;
    raisedHands: number;
    dominantSpeakers: number;
}

function who(identifier: CommunicationIdentifierKind): string {
    switch (identifier.kind) {
        case 'microsoftTeamsUser': return identifier.microsoftTeamsUserId;
        case 'phoneNumber': return identifier.phoneNumber;
        case 'communicationUser': return identifier.communicationUserId;
        case 'microsoftTeamsApp': return identifier.teamsAppId;
        case 'teamsExtensionUser': return identifier.userId;
        default: return identifier.id;
    }
}

function endReason(reason: CallEndReason | undefined): CallView['callEndReason'] {
    return reason ? { code: reason.code, subCode: reason.subCode } : undefined;
}

export class SoftPhone {
    readonly events: string[] = [];
    readonly ringing: TeamsIncomingCall[] = [];
    current: TeamsCall | undefined;

    private constructor(private readonly agent: TeamsCallAgent, readonly devices: DeviceManager) {
        agent.on('incomingCall', ({ incomingCall }) => {
            const caller = incomingCall.callerInfo;
            this.events.push(`incomingCall ${caller.displayName ?? (caller.identifier ? who(caller.identifier) : '?')}`);
            this.ringing.push(incomingCall);
            incomingCall.on('callEnded', ({ callEndReason }) => {
                this.events.push(`callEnded ${callEndReason.code}/${callEndReason.subCode}`);
            });
        });
        agent.on('callsUpdated', ({ added, removed }) => {
            this.events.push(`callsUpdated +${added.length} -${removed.length}`);
        });
        agent.on('connectionStateChanged', ({ oldValue, newValue, reason }) => {
            this.events.push(`connectionStateChanged ${oldValue}->${newValue} ${reason ?? ''}`.trim());
        });
    }

    static async signIn(token: string): Promise<SoftPhone> {
        const client = new CallClient();
        const devices = await client.getDeviceManager();
        const access = await devices.askDevicePermission({ audio: true, video: false });
        if (!access.audio) throw new Error('The microphone may not be used.');
        const microphones = await devices.getMicrophones();
        if (microphones.length > 0) await devices.selectMicrophone(microphones[0]);
        const agent = await client.createTeamsCallAgent(new AzureCommunicationTokenCredential(token));
        return new SoftPhone(agent, devices);
    }

    get connectionState(): string {
        return this.agent.connectionState;
    }

    get calls(): number {
        return this.agent.calls.length;
    }

    /** A Teams user over the chat we share: the call comes back at once, as ACS's does. */
    callTeamsUser(objectId: string, threadId: string): TeamsCall {
        const callee: MicrosoftTeamsUserIdentifier = { microsoftTeamsUserId: objectId };
        return this.follow(this.agent.startCall([callee], { threadId }));
    }

    callPhone(phoneNumber: string): TeamsCall {
        const callee: PhoneNumberIdentifier = { phoneNumber };
        return this.follow(this.agent.startCall(callee));
    }

    joinMeeting(meetingLink: string): TeamsCall {
        const locator: TeamsMeetingLinkLocator = { meetingLink };
        return this.follow(this.agent.join(locator, { audioOptions: { muted: false } }));
    }

    async answer(): Promise<TeamsCall> {
        const incoming = this.ringing.shift();
        if (!incoming) throw new Error('Nothing is ringing.');
        return this.follow(await incoming.accept());
    }

    async decline(): Promise<void> {
        const incoming = this.ringing.shift();
        if (!incoming) throw new Error('Nothing is ringing.');
        await incoming.reject();
    }

    async hold(): Promise<void> {
        await this.call().hold();
    }

    async resume(): Promise<void> {
        await this.call().resume();
    }

    async toggleMute(): Promise<void> {
        const call = this.call();
        await (call.isMuted ? call.unmute() : call.mute());
    }

    async pressFive(): Promise<void> {
        await this.call().sendDtmf('Num5');
    }

    async hangUp(): Promise<void> {
        await this.call().hangUp({ forEveryone: false });
    }

    /** Resolves when the current call is in `state` (it may be there already). */
    until(state: CallState): Promise<void> {
        const call = this.call();
        return new Promise((resolve) => {
            const check = (): void => {
                if (call.state !== state) return;
                call.off('stateChanged', check);
                resolve();
            };
            call.on('stateChanged', check);
            check();
        });
    }

    async serverCallId(): Promise<string> {
        return this.call().info.getServerCallId();
    }

    view(): CallView | undefined {
        const call = this.current;
        if (!call) return undefined;
        const capabilities = call.feature(Features.Capabilities).capabilities;
        return {
            id: call.id,
            state: call.state,
            direction: call.direction,
            isMuted: call.isMuted,
            threadId: call.info.threadId,
            callEndReason: endReason(call.callEndReason),
            remote: call.remoteParticipants.map((p: RemoteParticipant) => ({
                who: who(p.identifier), displayName: p.displayName, state: p.state, isMuted: p.isMuted,
            })),
            canUnmute: capabilities.unmuteMic.isPresent,
            canTurnVideoOn: capabilities.turnVideoOn.isPresent,
            raisedHands: call.feature(Features.RaiseHand).getRaisedHands().length,
            dominantSpeakers: call.feature(Features.DominantSpeakers).dominantSpeakers.speakersList.length,
        };
    }

    private call(): TeamsCall {
        if (!this.current) throw new Error('There is no call.');
        return this.current;
    }

    private follow(call: TeamsCall): TeamsCall {
        this.current = call;
        this.events.push(`call ${call.direction} ${call.state}`);
        call.on('stateChanged', () => {
            const reason = call.callEndReason;
            this.events.push(`stateChanged ${call.state}${reason ? ` ${reason.code}/${reason.subCode}` : ''}`);
        });
        call.on('idChanged', () => this.events.push('idChanged'));
        call.on('isMutedChanged', () => this.events.push(`isMutedChanged ${call.isMuted}`));
        call.on('remoteParticipantsUpdated', ({ added, removed }) => {
            this.events.push(`remoteParticipantsUpdated +${added.length} -${removed.length}`);
        });
        return call;
    }
}
