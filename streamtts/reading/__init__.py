"""Reading what the agent says: a byte stream or a session transcript, parsed by format into
text pieces.
"""
