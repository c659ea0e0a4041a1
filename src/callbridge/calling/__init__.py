"""The calling service: call agents, calls as sets of participants, routing, and the signalling protocol."""
