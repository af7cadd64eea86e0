"""The typed description of a run (placeholder; filled in below)."""
