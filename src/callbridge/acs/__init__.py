"""The communication identity API, shaped like Azure Communication Services' identity REST API."""

# Served at the root of its endpoint, as ACS's are (``{resource}.communication.azure.com/identities``): the paths
# that belong to it, for the edge's body limits and error shapes.
PATH_PREFIXES = ("/identities", "/teamsUser/")
