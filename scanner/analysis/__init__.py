"""From evidence to findings: catalog, resolution, risk, inventory, policy."""
