"""The pure core: values in, values out.  No clock, environment, network or kopf."""
