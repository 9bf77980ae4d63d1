"""grader: grades written answers to DevOps/SRE interview questions."""

__version__ = "0.1.0"
