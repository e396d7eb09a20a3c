"""The cloud's endpoints: the session websocket and the OpenAI-compatible HTTP routes."""
