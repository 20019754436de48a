"""The resident daemon: its protocol, the server, the client side, and the per-user service
files.
"""
