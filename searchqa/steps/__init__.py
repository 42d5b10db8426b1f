"""Pipeline steps, one concept each."""
