"""mend: the incident playbook board."""

__version__ = "0.1.0"
