"""The kernel every layer may import: records, errors, settings, logging, safe names."""
