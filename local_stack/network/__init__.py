"""Sockets of the local stack: listening sockets, the fault-injecting TCP proxy,
the local certificate authority."""
