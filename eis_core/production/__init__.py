"""Daily production scoring: the ranked list of active officers with their risk factors."""
