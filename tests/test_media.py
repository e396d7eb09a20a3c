"""Reading real media files: audio to 16 kHz mono int16, video and stills to BGR frames."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from edge.errors import MediaError
from edge.sources.media import SAMPLE_RATE
from simulators.media import open_video, read_audio


def wav_duration(path: Path) -> float:
    with wave.open(str(path)) as source:
        return source.getnframes() / source.getframerate()


@pytest.mark.parametrize("name", ["librivox-0870.wav", "librivox-0880.wav", "librivox-0890.wav"])
def test_16k_mono_wav_comes_back_sample_exact(recordings: Path, name: str) -> None:
    path = recordings / "speech" / name
    with wave.open(str(path)) as source:
        expected = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")

    samples = read_audio(path)

    assert samples.dtype == np.int16 and samples.ndim == 1
    assert np.array_equal(samples, expected)


def test_44k1_stereo_wav_is_resampled_to_16k_mono(recordings: Path, tmp_path: Path) -> None:
    speech = read_audio(recordings / "speech" / "librivox-0880.wav")
    # Upsample a real recording to 44.1 kHz and put it on both channels, the right one quieter.
    t44 = np.arange(round(len(speech) * 44_100 / SAMPLE_RATE)) / 44_100
    upsampled = np.interp(t44, np.arange(len(speech)) / SAMPLE_RATE, speech).astype(np.int16)
    stereo = np.stack([upsampled, upsampled // 2], axis=1)
    path = tmp_path / "stereo-44k1.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44_100)
        out.writeframes(stereo.astype("<i2").tobytes())

    samples = read_audio(path)

    assert samples.dtype == np.int16 and samples.ndim == 1
    assert len(samples) / SAMPLE_RATE == pytest.approx(wav_duration(path), rel=0.01)
    # Still the same speech: strongly correlated with the 16 kHz original.
    n = min(len(samples), len(speech))
    correlation = np.corrcoef(samples[:n].astype(float), speech[:n].astype(float))[0, 1]
    assert correlation > 0.9


def test_raw_pcm_is_read_with_its_declared_format(recordings: Path) -> None:
    path = recordings / "speech" / "goforward-16k-s16le.raw"

    samples = read_audio(path, "s16le:16000")

    assert np.array_equal(samples, np.fromfile(path, dtype="<i2"))


def test_raw_pcm_at_another_rate_and_channel_count_is_resampled(
    recordings: Path, tmp_path: Path
) -> None:
    mono = read_audio(recordings / "speech" / "goforward-16k-s16le.raw", "s16le:16000")
    eight_k = mono[::2]
    stereo = np.stack([eight_k, eight_k], axis=1).astype("<i2")
    path = tmp_path / "goforward-8k-stereo.raw"
    path.write_bytes(stereo.tobytes())

    samples = read_audio(path, "s16le:8000:2")

    assert len(samples) == pytest.approx(len(mono), rel=0.01)


def test_audio_track_of_a_video_is_read(recordings: Path) -> None:
    samples = read_audio(recordings / "video" / "realshort.mp4")

    assert len(samples) / SAMPLE_RATE == pytest.approx(1.17, abs=0.05)


@pytest.mark.parametrize(
    ("relative", "audio_format", "message"),
    [
        ("speech/missing.wav", None, "no such file"),
        ("video/help.mkv", None, "no audio track"),
        ("speech/goforward-16k-s16le.txt", None, "cannot read audio"),
        ("speech/goforward-16k-s16le.raw", None, "audio_format"),
        ("speech/goforward-16k-s16le.raw", "mp3:16000", "not understood"),
        ("speech", None, "not a file"),
    ],
)
def test_unusable_audio_raises_media_error_naming_the_file(
    recordings: Path, relative: str, audio_format: str | None, message: str
) -> None:
    with pytest.raises(MediaError, match=message) as raised:
        read_audio(recordings / relative, audio_format)
    if audio_format is None:
        assert str(recordings / relative) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_empty_files_raise_media_error(tmp_path: Path) -> None:
    empty_wav = tmp_path / "empty.wav"
    with wave.open(str(empty_wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
    empty_raw = tmp_path / "empty.raw"
    empty_raw.write_bytes(b"")

    with pytest.raises(MediaError, match=r"empty\.wav"):
        read_audio(empty_wav)
    with pytest.raises(MediaError, match="no audio samples"):
        read_audio(empty_raw, "s16le:16000")


@pytest.mark.parametrize(
    ("name", "size", "frames", "last_t"),
    [
        ("realshort.mp4", (240, 320), 36, 1.166),
        ("help.mkv", (480, 640), 58, 1.9),
        ("yes.mkv", (480, 640), 65, 2.134),  # its stream starts at pts 33: shifted to 0
        ("face-demographics-walking.gif", (270, 480), 35, 2.83),
    ],
)
def test_video_frames_are_bgr_with_stream_timestamps_from_zero(
    recordings: Path, name: str, size: tuple[int, int], frames: int, last_t: float
) -> None:
    reader = open_video(recordings / "video" / name)

    decoded = list(reader.frames())

    assert len(decoded) == frames
    assert decoded[0].t == 0.0
    assert decoded[-1].t == pytest.approx(last_t, abs=0.002)
    times = [f.t for f in decoded]
    assert times == sorted(times)
    assert decoded[0].image.shape == (*size, 3) and decoded[0].image.dtype == np.uint8
    assert reader.skipped_frames == 0


def test_video_reader_can_be_read_again(recordings: Path) -> None:
    reader = open_video(recordings / "video" / "realshort.mp4")

    assert len(list(reader)) == len(list(reader)) == 36


def test_still_image_is_a_repeated_read_only_frame(recordings: Path) -> None:
    reader = open_video(recordings / "images" / "page.png", still_s=3.0)

    frames = list(reader.frames())

    assert reader.is_still
    assert [f.t for f in frames] == pytest.approx([i / 5 for i in range(15)])
    assert all(f.image is frames[0].image for f in frames)
    assert not frames[0].image.flags.writeable
    assert frames[0].image.shape == (191, 384, 3)


def test_video_frames_come_out_in_bgr_order(recordings: Path, tmp_path: Path) -> None:
    import cv2

    still = cv2.imread(str(recordings / "images" / "chelsea.png"), cv2.IMREAD_COLOR)
    renamed = tmp_path / "chelsea.image"  # no image suffix: recognised by content
    renamed.write_bytes((recordings / "images" / "chelsea.png").read_bytes())

    [frame] = list(open_video(renamed, still_s=0.1).frames())

    assert np.array_equal(frame.image, still)


@pytest.mark.parametrize("name", ["realshort.mp4", "help.mkv", "face-demographics-walking.gif"])
def test_truncated_video_gives_some_frames_or_a_clear_error(
    recordings: Path, tmp_path: Path, name: str
) -> None:
    data = (recordings / "video" / name).read_bytes()
    truncated = tmp_path / name
    truncated.write_bytes(data[: len(data) * 3 // 10])

    try:
        frames = list(open_video(truncated).frames())
    except MediaError as exc:
        assert str(truncated) in str(exc)
    else:
        assert 0 < len(frames) < 80


def test_corrupt_packets_are_skipped_and_counted(recordings: Path, tmp_path: Path) -> None:
    data = bytearray((recordings / "video" / "realshort.mp4").read_bytes())
    noise = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    start = len(data) // 3
    data[start : start + len(noise)] = noise
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))

    reader = open_video(damaged)
    frames = list(reader.frames())

    assert 0 < len(frames) <= 36
    assert len(frames) + reader.skipped_frames >= 30


@pytest.mark.parametrize(
    ("relative", "message"),
    [
        ("video/missing.mp4", "no such file"),
        ("speech/librivox-0870.wav", "no video track"),
        ("speech/librivox-0870.txt", "cannot read video"),
    ],
)
def test_unusable_video_raises_media_error_naming_the_file(
    recordings: Path, relative: str, message: str
) -> None:
    with pytest.raises(MediaError, match=message) as raised:
        open_video(recordings / relative)
    assert str(recordings / relative) in str(raised.value)


def test_damaged_image_raises_media_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")

    with pytest.raises(MediaError, match=r"broken\.png: cannot read image"):
        open_video(broken)
