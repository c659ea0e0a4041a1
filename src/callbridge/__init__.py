"""callbridge: self-hosted calling with organisation identities."""

__version__ = "0.1.0"
