"""The HTTP edge: what every request meets before a route (body limits, security headers, connection deadlines
and caps) and the one bounded JSON reader the routes parse bodies with."""
