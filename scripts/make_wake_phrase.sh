#!/usr/bin/env bash
# Speaks the wake phrase with espeak-ng as 16 kHz mono WAV, alone and followed by
# a question, with silence either side. Run once; the WAVs are committed so the
# wake-phrase tests need no espeak-ng at run time.
#
# A faint noise floor (about -44 dBFS) is mixed in, as any microphone has: on digitally silent
# audio CMU Sphinx's feature normalisation misjudges the speech (it hears
# "hey companion" as "i thought you"). The female voice f2 at 150 wpm is the
# espeak voice Sphinx's en-US acoustic model hears best.
set -euo pipefail
out=${1:-simulators/wake}
mkdir -p "$out"
speak() {  # name, text
  espeak-ng -v en-us+f2 -s 150 -w "/tmp/$1.raw.wav" "$2"
  sox "/tmp/$1.raw.wav" -r 16000 -c 1 -b 16 "/tmp/$1.padded.wav" pad 0.5 0.7
  seconds=$(sox --i -D "/tmp/$1.padded.wav")
  sox -R -n -r 16000 -c 1 -b 16 "/tmp/$1.noise.wav" synth "$seconds" whitenoise vol 0.02
  sox -R -m -v 1 "/tmp/$1.padded.wav" -v 1 "/tmp/$1.noise.wav" -b 16 "$out/$1.wav"
  rm -f "/tmp/$1.raw.wav" "/tmp/$1.padded.wav" "/tmp/$1.noise.wav"
}
speak hey-companion "Hey companion."
speak hey-companion-question "Hey companion, what am I looking at?"
