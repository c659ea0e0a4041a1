"""Meetings (use case 5): finding a meeting from what a user joins with, the lobby decision, roles and
capabilities. The modules here other than ``lookup`` are pure: they take typed values and return typed values."""
