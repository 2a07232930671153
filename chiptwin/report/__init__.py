"""Reports: plots drawn from trace tables (matplotlib, Agg backend, no global pyplot state)."""
