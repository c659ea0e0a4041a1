"""The communication identity API, shaped like Azure Communication Services' identity REST API."""
