#!/usr/bin/env bash
# Makes the media of the evaluation scenarios (scenarios/*.json, scenarios/pending/*.json):
# questions spoken with espeak-ng as 16 kHz mono WAV with silence either side,
# quiet and noisy versions of one, a noise-only clip, and an unseen sign photo.
# Run once from the repository root; the files are committed so `companion eval`
# needs neither espeak-ng nor sox.
set -euo pipefail
out=${1:-scenarios/media}
mkdir -p "$out"
speak() {  # name, rate, text
  espeak-ng -v en-us+m3 -s "$2" -w "/tmp/$1.raw.wav" "$3"
  sox "/tmp/$1.raw.wav" -r 16000 -c 1 -b 16 "$out/$1.wav" pad 0.5 0.7
  rm -f "/tmp/$1.raw.wav"
}
# Rates as in scripts/make_questions.sh: what Whisper base hears word for word.
speak question-page 130 "What does this page say?"
speak question-look 130 "What am I looking at?"
# The sign question as shipped with the demo: this voice's "sign" is easily heard as "time".
cp simulators/demo/question-sign.wav "$out/question-sign.wav"
speak question-this 130 "What is this?"
speak question-face 130 "Who is in front of me?"
speak question-explain 130 "Explain what this page is about, step by step."
speak remember-parking 120 "Remember that my car is on level three."
speak where-parked 130 "Where did I park?"
speak shopping-milk 130 "Add milk to my shopping list."
speak remind-call 130 "Remind me to call mum in ten minutes."
speak long-question 130 "Tell me everything you can about this page, in as much detail as you can."
speak stop 140 "Stop."
# Quiet, noisy and noise-only audio, the sign photo: numpy and OpenCV.
python scripts/make_scenario_media.py "$out"
