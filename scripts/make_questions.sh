#!/usr/bin/env bash
# Speaks the shipped demo and test questions with espeak-ng, as 16 kHz mono WAV
# with half a second of silence either side (the edge needs to hear the end of
# speech). Run once; the WAVs are committed so nothing needs espeak-ng at run time.
set -euo pipefail
out=${1:-simulators/demo}
# Voice and rate per question: picked so Whisper base hears each word of the
# synthetic voice (espeak's "page" at 120 wpm reads as "age", "sign" at 130 as "time").
speak() {  # name, rate, text
  espeak-ng -v en-us+m3 -s "$2" -w "/tmp/$1.raw.wav" "$3"
  sox "/tmp/$1.raw.wav" -r 16000 -c 1 -b 16 "$out/$1.wav" pad 0.5 0.7
  rm -f "/tmp/$1.raw.wav"
}
speak question-page 130 "What does this page say?"
speak question-look 130 "What am I looking at?"
speak question-sign 120 "What does this sign say?"
