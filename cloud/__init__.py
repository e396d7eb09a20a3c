"""Speech recognition, reasoning and the conversation engine."""
