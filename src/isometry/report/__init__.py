"""Self-contained HTML reports of training runs (figures as inline PNG, no network)."""

from .html import Section, figure_section, render, run_sections, table_section, write_report

__all__ = ["Section", "figure_section", "table_section", "run_sections", "render", "write_report"]
