"""neuroseq."""
