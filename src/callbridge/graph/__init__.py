"""The directory API, shaped like Microsoft Graph v1.0, under ``/graph/v1.0``."""
