"""SIP, callbridge's own stack in layers that import downward only: message -> transport -> transaction -> dialog
-> user agent. The cores are sans-I/O: bytes and `now` in; events, bytes to send and timers out."""
