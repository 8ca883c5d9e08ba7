"""kopf entry points: thin, parse the CR, call the service, patch status."""
