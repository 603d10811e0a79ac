"""ClearML's data and model registry, kept in the artifact store."""
