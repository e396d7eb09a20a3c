"""Speech to text: the bundled Whisper, OpenAI-compatible transcription, decoding segments."""
