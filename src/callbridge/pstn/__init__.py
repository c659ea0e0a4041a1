"""The phone network: tenants' trunks, numbers, and the calls between agents and phones (use cases 1 and 2)."""
