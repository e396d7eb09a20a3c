"""The audio chain: VAD → endpointing → turn-taking → wake phrase, and speech encoding."""
