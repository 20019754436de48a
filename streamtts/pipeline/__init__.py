"""The pipeline: sentences in, translated, read, synthesized and played on threads of their
own, with a record of each.
"""
