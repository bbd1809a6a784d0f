"""postloan: post-loan inspections, warning signals and the inspection opinion."""

__version__ = "0.1.0"
