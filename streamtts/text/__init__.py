"""From text pieces to sentences a voice can say: markdown made speakable, sentences split as
they stream, code words given readings.
"""
