/**
 * Declarations of callbridge's browser calling SDK (`/sdk/calling.js`): the Teams subset of Azure Communication
 * Services' `@azure/communication-calling` 2.x and the parts of `@azure/communication-common` 2.5 a calling app
 * uses (identifiers, the token credential), with their names and shapes, written from ACS's published
 * declarations (`types/communication-calling.d.ts`). A program written against ACS's compiles against this file
 * when both package names resolve here (tsconfig `paths`), and runs against `/sdk/calling.js` with an import map.
 * What callbridge leaves out, adds or fills differently is listed in docs/protocol.md ("Differences from ACS").
 */

// -- @azure/communication-common: identifiers -------------------------------------------------------------------

export interface CommunicationUserIdentifier {
    communicationUserId: string;
}
export interface PhoneNumberIdentifier {
    rawId?: string;
    phoneNumber: string;
    assertedId?: string;
    isAnonymous?: boolean;
}
export interface MicrosoftTeamsUserIdentifier {
    rawId?: string;
    microsoftTeamsUserId: string;
    isAnonymous?: boolean;
    cloud?: "public" | "dod" | "gcch";
}
export interface MicrosoftTeamsAppIdentifier {
    rawId?: string;
    teamsAppId: string;
    cloud?: "public" | "dod" | "gcch";
}
export interface TeamsExtensionUserIdentifier {
    rawId?: string;
    userId: string;
    tenantId: string;
    resourceId: string;
    cloud?: "public" | "dod" | "gcch";
}
export interface UnknownIdentifier {
    id: string;
}
export type CommunicationIdentifier = CommunicationUserIdentifier | PhoneNumberIdentifier | MicrosoftTeamsUserIdentifier
    | MicrosoftTeamsAppIdentifier | TeamsExtensionUserIdentifier | UnknownIdentifier;

export interface CommunicationUserKind extends CommunicationUserIdentifier {
    kind: "communicationUser";
}
export interface PhoneNumberKind extends PhoneNumberIdentifier {
    kind: "phoneNumber";
}
export interface MicrosoftTeamsUserKind extends MicrosoftTeamsUserIdentifier {
    kind: "microsoftTeamsUser";
}
export interface MicrosoftTeamsAppKind extends MicrosoftTeamsAppIdentifier {
    kind: "microsoftTeamsApp";
}
export interface TeamsExtensionUserKind extends TeamsExtensionUserIdentifier {
    kind: "teamsExtensionUser";
}
export interface UnknownIdentifierKind extends UnknownIdentifier {
    kind: "unknown";
}
export type CommunicationIdentifierKind = CommunicationUserKind | PhoneNumberKind | MicrosoftTeamsUserKind
    | MicrosoftTeamsAppKind | TeamsExtensionUserKind | UnknownIdentifierKind;

export declare const isCommunicationUserIdentifier: (identifier: CommunicationIdentifier) => identifier is CommunicationUserIdentifier;
export declare const isPhoneNumberIdentifier: (identifier: CommunicationIdentifier) => identifier is PhoneNumberIdentifier;
export declare const isMicrosoftTeamsUserIdentifier: (identifier: CommunicationIdentifier) => identifier is MicrosoftTeamsUserIdentifier;
export declare const isMicrosoftTeamsAppIdentifier: (identifier: CommunicationIdentifier) => identifier is MicrosoftTeamsAppIdentifier;
export declare const isTeamsExtensionUserIdentifier: (identifier: CommunicationIdentifier) => identifier is TeamsExtensionUserIdentifier;
export declare const isUnknownIdentifier: (identifier: CommunicationIdentifier) => identifier is UnknownIdentifier;
export declare const getIdentifierKind: (identifier: CommunicationIdentifier) => CommunicationIdentifierKind;
/** callbridge's also takes a raw id string as it is. */
export declare const getIdentifierRawId: (identifier: CommunicationIdentifier) => string;
export declare const createIdentifierFromRawId: (rawId: string) => CommunicationIdentifierKind;

// -- @azure/communication-common: the token credential ----------------------------------------------------------

/** @azure/core-auth's AccessToken. */
export interface AccessToken {
    token: string;
    expiresOnTimestamp: number;
}
/** @azure/abort-controller's AbortSignalLike. */
export interface AbortSignalLike {
    readonly aborted: boolean;
    addEventListener(type: "abort", listener: (this: AbortSignalLike, ev: any) => any, options?: any): void;
    removeEventListener(type: "abort", listener: (this: AbortSignalLike, ev: any) => any, options?: any): void;
}
export interface CommunicationGetTokenOptions {
    abortSignal?: AbortSignalLike;
}
export interface CommunicationTokenCredential {
    getToken(options?: CommunicationGetTokenOptions): Promise<AccessToken>;
    dispose(): void;
}
export interface CommunicationTokenRefreshOptions {
    tokenRefresher: (abortSignal?: AbortSignalLike) => Promise<string | AccessToken>;
    token?: string | AccessToken;
    refreshProactively?: boolean;
}
export declare class AzureCommunicationTokenCredential implements CommunicationTokenCredential {
    constructor(token: string | AccessToken);
    constructor(refreshOptions: CommunicationTokenRefreshOptions);
    getToken(options?: CommunicationGetTokenOptions): Promise<AccessToken>;
    dispose(): void;
}

// -- @azure/communication-calling: events and small types ----------------------------------------------------------

export type PropertyChangedEvent = () => void;
export type PropertyChangedEventWithArgs<TValue, TReason = void> = (args: {
    newValue?: TValue;
    oldValue?: TValue;
    reason?: TReason;
}) => void;
export type CollectionUpdatedEvent<T> = (args: {
    added: T[];
    removed: T[];
}) => void;
export interface Disposable {
    dispose(): void;
}
export interface CommunicationServicesError {
    readonly name: string;
    readonly message: string;
    readonly code: number;
    readonly subCode: number;
}
/** An error of this SDK or the service (callbridge's class; ACS's errors have the same fields). */
export declare class CallingError extends Error implements CommunicationServicesError {
    readonly code: number;
    readonly subCode: number;
}

export type ConnectionState = 'Connected' | 'Disconnected';
export type ConnectionStateChangedReason = 'invalidToken' | 'connectionIssue';
export type ConnectionStateChangedEvent = (args: {
    newValue: ConnectionState;
    oldValue: ConnectionState;
    reason?: ConnectionStateChangedReason;
}) => void;

export type CallState = 'None' | 'Connecting' | 'Ringing' | 'Connected' | 'LocalHold' | 'RemoteHold' | 'InLobby'
    | 'Disconnecting' | 'Disconnected' | 'EarlyMedia';
export type CallDirection = 'Incoming' | 'Outgoing';
export type RemoteParticipantState = 'Idle' | 'Connecting' | 'Ringing' | 'Connected' | 'Hold' | 'InLobby'
    | 'EarlyMedia' | 'Disconnected';
export type ParticipantRole = 'Unknown' | 'Attendee' | 'Presenter' | 'Organizer' | 'Co-organizer' | 'Consumer'
    | 'Collaborator';
export type DtmfTone = 'A' | 'B' | 'C' | 'D' | 'Flash' | 'Num0' | 'Num1' | 'Num2' | 'Num3' | 'Num4' | 'Num5'
    | 'Num6' | 'Num7' | 'Num8' | 'Num9' | 'Pound' | 'Star';

export interface CallEndReason {
    readonly code: number;
    readonly subCode?: number;
    /** callbridge's own: the service's words, when something refused the call before it started. */
    readonly message?: string;
}
export type CallEndedEvent = (args: {
    callEndReason: CallEndReason;
}) => void;
export interface CallerInfo {
    readonly identifier: CommunicationIdentifierKind | undefined;
    /** callbridge fills it for Teams users too (ACS leaves it undefined for them). */
    readonly displayName?: string;
}

export declare enum CallKind {
    Call = "Call",
    TeamsCall = "TeamsCall"
}
export declare enum CallAgentKind {
    CallAgent = "CallAgent",
    TeamsCallAgent = "TeamsCallAgent"
}
export declare enum IncomingCallKind {
    IncomingCall = "IncomingCall",
    TeamsIncomingCall = "TeamsIncomingCall"
}

// -- options and locators ------------------------------------------------------------------------------------------

/** ACS's audio options take a LocalAudioStream, which callbridge does not have: the selected microphone is used. */
export interface AudioOptions {
    muted?: boolean;
}
export interface JoinCallOptions {
    audioOptions?: AudioOptions;
}
export interface AcceptCallOptions {
    audioOptions?: AudioOptions;
}
export interface StartTeamsCallOptions extends JoinCallOptions {
}
export interface StartTeamsGroupCallOptions extends StartTeamsCallOptions {
    /** The chat the people called share (callbridge needs it to call a Teams user). */
    threadId?: string;
}
export interface HangUpOptions {
    forEveryone: boolean;
}
export interface AddTeamsParticipantOptions {
    threadId?: string;
}
export interface TeamsMeetingLinkLocator {
    meetingLink: string;
}
export interface TeamsMeetingIdLocator {
    meetingId: string;
    passcode?: string;
}
export interface TeamsCallAgentOptions {
}
export interface CallAgentOptions {
    /** The name the others in a call see (a guest's, joining a Teams meeting). */
    displayName?: string;
}
export interface AdmitLobbyParticipantOptions {
}
export interface RejectLobbyParticipantOptions {
}
export interface AdmitAllOperationResult {
    readonly successCount: number;
    readonly failureCount: number;
}
export interface CallClientOptions {
    /** callbridge's own: the service's https origin (by default the origin `/sdk/calling.js` came from). */
    endpoint?: string;
}

// -- features ----------------------------------------------------------------------------------------------------

export interface BaseFeature extends Disposable {
    readonly name: string;
}
export interface CallFeature extends BaseFeature {
}
export interface FeatureFactory {
}
export interface CallFeatureContext {
    callAgent: CallAgentCommon;
    call: CallCommon;
}
export type CallFeatureCtor<TFeature extends CallFeature> = new (context: CallFeatureContext) => TFeature;
export interface CallFeatureFactory<TFeature extends CallFeature> extends FeatureFactory {
    readonly callApiCtor: CallFeatureCtor<TFeature>;
}

export interface DominantSpeakersInfo {
    speakersList: ReadonlyArray<CommunicationIdentifierKind>;
    timestamp: Date;
}
export interface DominantSpeakersCallFeature extends CallFeature {
    readonly dominantSpeakers: DominantSpeakersInfo;
    on(event: 'dominantSpeakersChanged', listener: PropertyChangedEvent): void;
    off(event: 'dominantSpeakersChanged', listener: PropertyChangedEvent): void;
}

export interface RaisedHand {
    identifier: CommunicationUserIdentifier | MicrosoftTeamsUserIdentifier;
    order: number;
}
export interface RaisedHandChangedEvent {
    identifier: CommunicationUserIdentifier | MicrosoftTeamsUserIdentifier;
}
export type RaisedHandEventType = 'raisedHandEvent';
export type LoweredHandEventType = 'loweredHandEvent';
export type RaisedHandListener = (data: RaisedHandChangedEvent) => void;
export type LoweredHandListener = (data: RaisedHandChangedEvent) => void;
export interface RaiseHandCallFeature extends CallFeature {
    raiseHand(): Promise<void>;
    lowerHand(): Promise<void>;
    lowerHands(identifiers: (CommunicationUserIdentifier | MicrosoftTeamsUserIdentifier)[]): Promise<void>;
    lowerAllHands(): Promise<void>;
    getRaisedHands(): RaisedHand[];
    on(event: RaisedHandEventType, listener: RaisedHandListener): void;
    off(event: RaisedHandEventType, listener: RaisedHandListener): void;
    on(event: LoweredHandEventType, listener: LoweredHandListener): void;
    off(event: LoweredHandEventType, listener: LoweredHandListener): void;
}

/** The capabilities callbridge reports (a subset of ACS's ParticipantCapabilityName). */
export type ParticipantCapabilityName = 'turnVideoOn' | 'unmuteMic' | 'shareScreen' | 'removeParticipant'
    | 'hangUpForEveryOne' | 'addCommunicationUser' | 'addTeamsUser' | 'addPhoneNumber' | 'manageLobby'
    | 'spotlightParticipant' | 'blurBackground' | 'startLiveCallingCaptions' | 'raiseHand' | 'muteOthers'
    | 'useReactions' | 'realTimeText';
export type CapabilityResolutionReason = 'Capable' | 'CapabilityNotApplicableForTheCallType' | 'ClientRestricted'
    | 'UserPolicyRestricted' | 'RoleRestricted' | 'FeatureNotSupported' | 'MeetingRestricted' | 'NotInitialized'
    | 'NotCapable' | 'TeamsPremiumLicenseRestricted' | 'IpModeUserPolicyRestricted' | 'ExplicitConsentRequired';
export type ParticipantCapabilities = Record<ParticipantCapabilityName, {
    isPresent: boolean;
    reason: CapabilityResolutionReason;
}>;
export type ChangedParticipantCapabilities = Partial<ParticipantCapabilities>;
export type CapabilitiesChangedReason = 'RoleChanged' | 'UserPolicyChanged' | 'MeetingOptionOrOrganizerPolicyChanged'
    | 'TeamsPremiumLicenseChanged';
export interface CapabilitiesChangeInfo {
    oldValue: ChangedParticipantCapabilities;
    newValue: ChangedParticipantCapabilities;
    reason: CapabilitiesChangedReason;
}
export type CapabilitiesChangedEventType = 'capabilitiesChanged';
export type CapabilitiesChangeHandler = (data: CapabilitiesChangeInfo) => void;
export interface CapabilitiesFeature extends CallFeature {
    readonly capabilities: ParticipantCapabilities;
    on(event: CapabilitiesChangedEventType, listener: CapabilitiesChangeHandler): void;
    off(event: CapabilitiesChangedEventType, listener: CapabilitiesChangeHandler): void;
}

export interface TeamsMeetingAudioConferencingPhoneNumber {
    readonly tollPhoneNumber?: PhoneNumberIdentifier;
    readonly tollFreePhoneNumber?: PhoneNumberIdentifier;
    readonly countryName?: string;
    readonly cityName?: string;
}
export interface TeamsMeetingAudioConferencingDetails {
    readonly phoneConferenceId: string;
    readonly phoneNumbers: TeamsMeetingAudioConferencingPhoneNumber[];
}
export interface TeamsMeetingAudioConferencingCallFeature extends CallFeature {
    getTeamsMeetingAudioConferencingDetails(): Promise<TeamsMeetingAudioConferencingDetails>;
}

/** The features callbridge provides (ACS's `Features` has more). */
export declare const Features: {
    RaiseHand: CallFeatureFactory<RaiseHandCallFeature>;
    Capabilities: CallFeatureFactory<CapabilitiesFeature>;
    DominantSpeakers: CallFeatureFactory<DominantSpeakersCallFeature>;
    TeamsMeetingAudioConferencing: CallFeatureFactory<TeamsMeetingAudioConferencingCallFeature>;
};

// -- participants and calls -----------------------------------------------------------------------------------------

export interface EndpointDetails {
    participantId: string;
}
export interface ParticipantInfo {
    readonly identifier: CommunicationIdentifierKind;
    /** callbridge fills it for Teams users too (ACS leaves it undefined for them). */
    readonly displayName?: string;
    readonly endpointDetails: EndpointDetails[];
}
export interface RemoteParticipant extends ParticipantInfo {
    readonly state: RemoteParticipantState;
    readonly callEndReason?: CallEndReason;
    readonly isMuted: boolean;
    readonly isSpeaking: boolean;
    readonly role: ParticipantRole;
    mute(): Promise<void>;
    on(event: 'stateChanged', listener: PropertyChangedEvent): void;
    on(event: 'isMutedChanged', listener: PropertyChangedEvent): void;
    on(event: 'displayNameChanged', listener: PropertyChangedEvent): void;
    on(event: 'roleChanged', listener: PropertyChangedEvent): void;
    on(event: 'isSpeakingChanged', listener: PropertyChangedEvent): void;
    off(event: 'stateChanged', listener: PropertyChangedEvent): void;
    off(event: 'isMutedChanged', listener: PropertyChangedEvent): void;
    off(event: 'displayNameChanged', listener: PropertyChangedEvent): void;
    off(event: 'roleChanged', listener: PropertyChangedEvent): void;
    off(event: 'isSpeakingChanged', listener: PropertyChangedEvent): void;
}

export interface CallInfoCommon {
    getServerCallId(): Promise<string>;
    readonly threadId: string | undefined;
    /** callbridge: this endpoint's agent id. */
    readonly participantId: string;
    onCallInfoChanged(event: 'callInfoChanged', listener: PropertyChangedEvent): void;
    offCallInfoChanged(event: 'callInfoChanged', listener: PropertyChangedEvent): void;
}
export interface TeamsCallInfo extends CallInfoCommon {
}
export interface CallInfo extends CallInfoCommon {
}

/** A Teams meeting's lobby: who waits (state 'InLobby'), and letting them in or not. */
export interface Lobby {
    readonly participants: ReadonlyArray<RemoteParticipant>;
    on(event: 'lobbyParticipantsUpdated', listener: CollectionUpdatedEvent<RemoteParticipant>): void;
    off(event: 'lobbyParticipantsUpdated', listener: CollectionUpdatedEvent<RemoteParticipant>): void;
    /** callbridge also takes the RemoteParticipant itself. */
    admit(participant: CommunicationIdentifier, options?: AdmitLobbyParticipantOptions): Promise<void>;
    reject(participant: CommunicationIdentifier, options?: RejectLobbyParticipantOptions): Promise<void>;
    admitAll(options?: AdmitLobbyParticipantOptions): Promise<AdmitAllOperationResult>;
}

export interface CallCommon extends Disposable {
    readonly kind: CallKind;
    readonly id: string;
    readonly callerInfo: CallerInfo;
    readonly transferorInfo?: CallerInfo;
    readonly state: CallState;
    readonly callEndReason?: CallEndReason;
    readonly direction: CallDirection;
    readonly isMuted: boolean;
    readonly isIncomingAudioMuted: boolean;
    readonly isScreenSharingOn: boolean;
    readonly isLocalVideoStarted: boolean;
    readonly remoteParticipants: ReadonlyArray<RemoteParticipant>;
    readonly role: ParticipantRole;
    readonly lobby: Lobby;
    feature<TFeature extends CallFeature>(factory: CallFeatureFactory<TFeature>): TFeature;
    muteAllRemoteParticipants(): Promise<void>;
    hangUp(options?: HangUpOptions): Promise<void>;
    mute(): Promise<void>;
    unmute(): Promise<void>;
    muteIncomingAudio(): Promise<void>;
    unmuteIncomingAudio(): Promise<void>;
    sendDtmf(dtmfTone: DtmfTone): Promise<void>;
    hold(): Promise<void>;
    resume(): Promise<void>;
    /** callbridge's own: the call's peer connection statistics. */
    getStats(): Promise<RTCStatsReport | Map<string, any>>;
    on(event: 'stateChanged', listener: PropertyChangedEvent): void;
    on(event: 'idChanged', listener: PropertyChangedEvent): void;
    on(event: 'isMutedChanged', listener: PropertyChangedEvent): void;
    on(event: 'isIncomingAudioMutedChanged', listener: PropertyChangedEvent): void;
    on(event: 'remoteParticipantsUpdated', listener: CollectionUpdatedEvent<RemoteParticipant>): void;
    on(event: 'roleChanged', listener: PropertyChangedEvent): void;
    on(event: 'mutedByOthers', listener: PropertyChangedEvent): void;
    /** callbridge's own: a tone the other side sent. */
    on(event: 'dtmfReceived', listener: (args: { tone: string }) => void): void;
    off(event: 'stateChanged', listener: PropertyChangedEvent): void;
    off(event: 'idChanged', listener: PropertyChangedEvent): void;
    off(event: 'isMutedChanged', listener: PropertyChangedEvent): void;
    off(event: 'isIncomingAudioMutedChanged', listener: PropertyChangedEvent): void;
    off(event: 'remoteParticipantsUpdated', listener: CollectionUpdatedEvent<RemoteParticipant>): void;
    off(event: 'roleChanged', listener: PropertyChangedEvent): void;
    off(event: 'mutedByOthers', listener: PropertyChangedEvent): void;
    off(event: 'dtmfReceived', listener: (args: { tone: string }) => void): void;
}

export interface TeamsCall extends CallCommon {
    readonly info: TeamsCallInfo;
    /** The participant at once, 'Connecting'; a refusal ends it with its callEndReason. */
    addParticipant(participant: MicrosoftTeamsUserIdentifier | PhoneNumberIdentifier | MicrosoftTeamsAppIdentifier
        | TeamsExtensionUserIdentifier | UnknownIdentifier, options?: AddTeamsParticipantOptions): RemoteParticipant;
    removeParticipant(participant: MicrosoftTeamsUserIdentifier | PhoneNumberIdentifier | TeamsExtensionUserIdentifier
        | UnknownIdentifier): Promise<void>;
}

/** A CallAgent's call (a guest's, in a Teams meeting). */
export interface Call extends CallCommon {
    readonly info: CallInfo;
    removeParticipant(identifier: CommunicationIdentifier): Promise<void>;
}

export interface IncomingCallCommon {
    readonly kind: IncomingCallKind;
    readonly id: string;
    readonly callerInfo: CallerInfo;
    readonly transferorInfo?: CallerInfo;
    readonly callEndReason?: CallEndReason;
    reject(): Promise<void>;
    on(event: 'callEnded', listener: CallEndedEvent): void;
    off(event: 'callEnded', listener: CallEndedEvent): void;
}
export interface TeamsIncomingCall extends IncomingCallCommon {
    readonly info: TeamsCallInfo;
    accept(options?: AcceptCallOptions): Promise<TeamsCall>;
}
export type TeamsIncomingCallEvent = (args: {
    incomingCall: TeamsIncomingCall;
}) => void;

// -- the agent, the devices, the client ----------------------------------------------------------------------------

export interface CallAgentCommon {
    readonly kind: CallAgentKind;
    readonly connectionState: ConnectionState;
    dispose(): Promise<void>;
}
export interface TeamsCallAgent extends CallAgentCommon {
    readonly calls: ReadonlyArray<TeamsCall>;
    startCall(participant: MicrosoftTeamsUserIdentifier | PhoneNumberIdentifier | MicrosoftTeamsAppIdentifier
        | UnknownIdentifier, options?: StartTeamsCallOptions): TeamsCall;
    /** callbridge calls one participant at a time: an array holds exactly one. */
    startCall(participants: (MicrosoftTeamsUserIdentifier | PhoneNumberIdentifier | MicrosoftTeamsAppIdentifier
        | UnknownIdentifier)[], options?: StartTeamsGroupCallOptions): TeamsCall;
    join(meetingLocator: TeamsMeetingLinkLocator, options?: JoinCallOptions): TeamsCall;
    join(meetingLocator: TeamsMeetingIdLocator, options?: JoinCallOptions): TeamsCall;
    on(event: 'incomingCall', listener: TeamsIncomingCallEvent): void;
    on(event: 'callsUpdated', listener: CollectionUpdatedEvent<TeamsCall>): void;
    on(event: 'connectionStateChanged', listener: ConnectionStateChangedEvent): void;
    off(event: 'incomingCall', listener: TeamsIncomingCallEvent): void;
    off(event: 'callsUpdated', listener: CollectionUpdatedEvent<TeamsCall>): void;
    off(event: 'connectionStateChanged', listener: ConnectionStateChangedEvent): void;
}

/** A communication identity's agent (a guest's): joins Teams meetings under its `displayName`. */
export interface CallAgent extends CallAgentCommon {
    readonly calls: ReadonlyArray<Call>;
    readonly displayName?: string;
    join(meetingLocator: TeamsMeetingLinkLocator, options?: JoinCallOptions): Call;
    join(meetingLocator: TeamsMeetingIdLocator, options?: JoinCallOptions): Call;
    on(event: 'callsUpdated', listener: CollectionUpdatedEvent<Call>): void;
    on(event: 'connectionStateChanged', listener: ConnectionStateChangedEvent): void;
    off(event: 'callsUpdated', listener: CollectionUpdatedEvent<Call>): void;
    off(event: 'connectionStateChanged', listener: ConnectionStateChangedEvent): void;
}

export type AudioDeviceType = 'Microphone' | 'Speaker' | 'CompositeAudioDevice' | 'Virtual';
export interface AudioDeviceInfo {
    readonly name: string;
    readonly id: string;
    readonly isSystemDefault: boolean;
    readonly deviceType: AudioDeviceType;
}
export type VideoDeviceType = 'Unknown' | 'UsbCamera' | 'CaptureAdapter' | 'Virtual' | 'ScreenSharing';
export interface VideoDeviceInfo {
    readonly name: string;
    readonly id: string;
    readonly deviceType: VideoDeviceType;
}
export interface PermissionConstraints {
    audio: boolean;
    video: boolean;
}
export interface DeviceAccess {
    audio: boolean;
    video: boolean;
}
export interface DeviceManager {
    readonly isSpeakerSelectionAvailable: boolean;
    readonly selectedMicrophone?: AudioDeviceInfo;
    readonly selectedSpeaker?: AudioDeviceInfo;
    getCameras(): Promise<VideoDeviceInfo[]>;
    getMicrophones(): Promise<AudioDeviceInfo[]>;
    getSpeakers(): Promise<AudioDeviceInfo[]>;
    selectMicrophone(microphoneDevice: AudioDeviceInfo): Promise<void>;
    selectSpeaker(speakerDevice: AudioDeviceInfo): Promise<void>;
    askDevicePermission(permissionConstraints: PermissionConstraints): Promise<DeviceAccess>;
    on(event: 'videoDevicesUpdated', listener: CollectionUpdatedEvent<VideoDeviceInfo>): void;
    on(event: 'audioDevicesUpdated', listener: CollectionUpdatedEvent<AudioDeviceInfo>): void;
    on(event: 'selectedMicrophoneChanged', listener: PropertyChangedEvent): void;
    on(event: 'selectedSpeakerChanged', listener: PropertyChangedEvent): void;
    off(event: 'videoDevicesUpdated', listener: CollectionUpdatedEvent<VideoDeviceInfo>): void;
    off(event: 'audioDevicesUpdated', listener: CollectionUpdatedEvent<AudioDeviceInfo>): void;
    off(event: 'selectedMicrophoneChanged', listener: PropertyChangedEvent): void;
    off(event: 'selectedSpeakerChanged', listener: PropertyChangedEvent): void;
}

export declare class CallClient {
    constructor(options?: CallClientOptions);
    /** One agent per client: a second one is refused with 409/40230 until the first is disposed. */
    createTeamsCallAgent(tokenCredential: CommunicationTokenCredential, options?: TeamsCallAgentOptions): Promise<TeamsCallAgent>;
    /** A guest's agent; one agent (of either kind) per client. */
    createCallAgent(tokenCredential: CommunicationTokenCredential, options?: CallAgentOptions): Promise<CallAgent>;
    getDeviceManager(): Promise<DeviceManager>;
    dispose(): Promise<void>;
}
