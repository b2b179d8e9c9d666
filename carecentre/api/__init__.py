"""The JSON API v1 (DESIGN.md, "Public contract")."""
