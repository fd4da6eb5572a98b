"""One module per stage of a run, in pipeline order."""
