"""Key manifests: serving the chain, accepting successors."""
