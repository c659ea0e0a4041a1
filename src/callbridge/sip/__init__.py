"""SIP, callbridge's own stack in layers that import downward only: message -> transport -> transaction -> dialog
-> user agent. The cores are sans-I/O: bytes and `now` in; events, bytes to send and timers out.

The message layer (RFC 3261 sections 7 and 25): `message.parse` / `Request` / `Response` with `__bytes__`,
`uri` (SIP, SIPS, tel, other absolute URIs), `headers` and `fields` (names, compact forms, typed Via, name-addr,
CSeq), `grammar` (the ABNF as regular expressions), `responses` (RFC 3261 8.2.6), `framing.StreamFramer` for
streams, and one error type, `errors.SipParseError`, that says what to answer (or to drop)."""
