"""dialer: AI outbound-calling campaigns written as code."""

__version__ = "0.1.0"
