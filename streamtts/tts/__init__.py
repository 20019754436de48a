"""Local Japanese speech engines behind one streaming interface."""
