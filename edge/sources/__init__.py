"""Where media comes from: time-stamped audio and video from files, cameras, microphones."""
