"""The built-in carrier: a stand-in for the phone network with virtual phones that speak real SIP and RTP to
callbridge's trunk. Each phone dials, rings, answers or declines, hangs up, plays a tone, a WAV file or an echo,
records what it hears and detects DTMF."""
