"""Meetings (use case 5): joining by link, the lobby, and phone dial-in."""
