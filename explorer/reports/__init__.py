"""Verifiable audit reports: a pure report model, PDF/HTML/CSV/JSON renderers and verification.

`write_report` (explorer.reports.writer) is the one entry point the CLI and the app use;
`verify_report` (explorer.reports.verify) checks a report against a store.
"""
