"""Least privilege on the laptop: every AWS call a function makes is checked against its role.

(Interfaces are described in full once the package is complete.)
"""
