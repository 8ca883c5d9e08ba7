"""Traffic-policy backends for rate-limit-client: Envoy Gateway, Istio, nginx."""
