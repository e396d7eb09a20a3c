"""The edge runtime: runs beside the camera and microphone and decides what leaves."""
