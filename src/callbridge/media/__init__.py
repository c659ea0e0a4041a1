"""Media: the gateway that anchors PSTN calls (WebRTC towards agents, RTP/AVP G.711 towards trunks) behind one port,
with an rtpengine adapter and an in-process aiortc bridge."""
