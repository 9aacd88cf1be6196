"""Tooling that never runs inside a lab: notebook execution and references, grading.

Nothing in ``labutils`` outside this package imports it, and no notebook does.
"""
