"""Meetings (use case 5): finding a meeting from what a user joins with, the lobby decision, roles and
capabilities (pure: typed values in and out, except ``lookup``), the adapter the calling service asks, and phone
dial-in (its prompts, its machine and its session)."""
