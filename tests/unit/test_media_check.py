"""Equipment check maths: levels, the meter, the returned preview, the test tone, browsers."""

from __future__ import annotations

import asyncio
import io
import threading
import wave
from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack

from rcp import media_check
from rcp.media_check import SILENCE_DB, LevelMeter, Verdict, check_browser

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
EDGE = CHROME + " Edg/131.0.2903.70"
LEGACY_EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045"
)
IE11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
IE9 = "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
OPERA = CHROME + " OPR/114.0.0.0"
OLD_CHROME = CHROME.replace("Chrome/131", "Chrome/79")
CHROME_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
)


def _sine(amplitude: float, n: int = 960, freq: float = 440.0, rate: int = 48000) -> np.ndarray:
    t = np.arange(n) / rate
    return np.round(amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


# --- levels ----------------------------------------------------------------------------------


def test_full_scale_sine_has_rms_minus_3_db_and_peak_0_db() -> None:
    rms_db, peak_db = media_check.audio_levels(_sine(1.0, n=4800))
    assert rms_db == pytest.approx(-3.01, abs=0.05)
    assert peak_db == pytest.approx(0.0, abs=0.01)


def test_halving_the_amplitude_lowers_the_level_by_6_db() -> None:
    loud, _ = media_check.audio_levels(_sine(0.5, n=4800))
    quiet, _ = media_check.audio_levels(_sine(0.25, n=4800))
    assert loud - quiet == pytest.approx(6.02, abs=0.05)


def test_silence_and_empty_blocks_read_as_the_floor() -> None:
    assert media_check.audio_levels(np.zeros(960, dtype=np.int16)) == (SILENCE_DB, SILENCE_DB)
    assert media_check.audio_levels(np.array([], dtype=np.int16)) == (SILENCE_DB, SILENCE_DB)


def test_float_samples_are_taken_as_full_scale_one() -> None:
    rms_db, peak_db = media_check.audio_levels(np.full(100, 0.5, dtype=np.float32))
    assert rms_db == pytest.approx(-6.02, abs=0.01)
    assert peak_db == pytest.approx(-6.02, abs=0.01)


def test_meter_fraction_is_linear_in_db_and_clamped() -> None:
    assert media_check.meter_fraction(-90.0) == 0.0
    assert media_check.meter_fraction(-60.0) == 0.0
    assert media_check.meter_fraction(-30.0) == pytest.approx(0.5)
    assert media_check.meter_fraction(0.0) == 1.0
    assert media_check.meter_fraction(6.0) == 1.0


def test_meter_rises_at_once_and_falls_at_the_release_rate() -> None:
    meter = LevelMeter(release_db_per_s=30.0)
    meter.push(_sine(0.5), now=10.0)  # about -9 dBFS RMS
    assert meter.reading(now=10.0).level_db == pytest.approx(-9.03, abs=0.1)
    meter.push(np.zeros(960, dtype=np.int16), now=10.02)
    assert meter.reading(now=10.02).level_db == pytest.approx(-9.03 - 0.6, abs=0.1)
    assert meter.reading(now=11.0).level_db == pytest.approx(-39.03, abs=0.1)
    assert meter.reading(now=20.0).level_db == SILENCE_DB


def test_meter_reports_when_it_last_heard_something_and_whether_audio_arrives() -> None:
    meter = LevelMeter()
    empty = meter.reading(now=0.0)
    assert empty.frames == 0 and empty.age_s is None and not empty.receiving
    meter.push(_sine(0.001), now=1.0)  # about -63 dBFS: a quiet room, not "heard"
    assert meter.reading(now=1.1).heard_s_ago is None
    meter.push(_sine(0.1), now=2.0)  # about -23 dBFS: speech
    reading = meter.reading(now=2.5)
    assert reading.heard_s_ago == pytest.approx(0.5)
    assert reading.receiving and reading.frames == 2
    assert not meter.reading(now=4.0).receiving


def test_meter_counts_every_push_from_several_threads() -> None:
    meter = LevelMeter()
    block = _sine(0.2)

    def feed() -> None:
        for _ in range(500):
            meter.push(block)

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(200):
        meter.reading()
    for thread in threads:
        thread.join()
    assert meter.reading().frames == 2000


def test_frame_rate_counts_frames_in_the_sliding_window() -> None:
    rate = media_check.FrameRate(window_s=2.0)
    for i in range(30):
        rate.tick(now=100.0 + i / 15)
    assert rate.fps(now=102.0) == pytest.approx(15.0, abs=0.5)
    assert rate.fps(now=110.0) == 0.0
    assert rate.count == 30


# --- preview ---------------------------------------------------------------------------------


def test_preview_is_mirrored_with_an_empty_meter_at_zero() -> None:
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    image[:, :10] = 255  # a white band on the left…
    out = media_check.preview_frame(image, 0.0, label="")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert out[60, 151].tolist() == [255, 255, 255]  # …comes out on the right
    assert out[60, 155].tolist() == [40, 40, 40]  # under the empty meter's track
    assert out[60, 0].tolist() == [0, 0, 0]
    assert image[60, 0].tolist() == [255, 255, 255]  # the input is untouched


def test_preview_meter_fills_from_the_bottom_in_proportion_to_the_level() -> None:
    image = np.zeros((200, 320, 3), dtype=np.uint8)
    half = media_check.preview_frame(image, 0.5, label="")
    column = half[:, 320 - 4 - 3]  # inside the bar (margin 4, width 8)
    green = np.all(column == [46, 160, 67], axis=1)
    assert green[150] and not green[50]
    assert 90 <= green.sum() <= 100
    full = media_check.preview_frame(image, 1.0, label="")
    assert full[6, 320 - 7].tolist() == [210, 50, 40]  # red at the top


def test_preview_label_is_drawn_top_left() -> None:
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    plain = media_check.preview_frame(image, 0.0, label="")
    labelled = media_check.preview_frame(image, 0.0)
    assert (labelled[:30, :150] != plain[:30, :150]).any()
    assert (labelled[120:, :150] == plain[120:, :150]).all()


def test_preview_track_keeps_timing_and_counts_frames() -> None:
    """The track sent back mirrors each camera frame with the same timing, and counts it."""
    probe = media_check.MediaProbe.new()
    frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), dtype=np.uint8), format="rgb24")
    frame.pts = 9000
    frame.time_base = Fraction(1, 90000)

    class OneFrame(MediaStreamTrack):
        kind = "video"

        async def recv(self) -> av.VideoFrame:
            return frame

    out = asyncio.run(media_check.preview_track(OneFrame(), probe).recv())
    assert (out.width, out.height) == (64, 48)
    assert out.pts == 9000 and out.time_base == Fraction(1, 90000)
    assert probe.video.count == 1


def test_push_audio_feeds_the_meter_from_aiortc_stereo_frames() -> None:
    probe = media_check.MediaProbe.new()
    mono = _sine(0.5)
    stereo = np.repeat(mono, 2).reshape(1, -1)  # packed s16 stereo, as aiortc's Opus decoder
    frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
    frame.sample_rate = 48000
    probe.push_audio(frame)
    reading = probe.level.reading()
    assert reading.frames == 1
    assert reading.level_db == pytest.approx(-9.03, abs=0.2)


# --- tone ------------------------------------------------------------------------------------


def test_tone_wav_is_a_mono_16_bit_file_of_the_requested_length() -> None:
    data = media_check.tone_wav(440.0, 1.5, sample_rate=44100)
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        assert wav.getframerate() == 44100
        assert wav.getnframes() == round(1.5 * 44100)


def test_tone_has_the_requested_pitch_and_level_and_fades_in_and_out() -> None:
    samples = media_check.tone_samples(440.0, 1.0, sample_rate=44100, amplitude=0.3)
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    assert np.fft.rfftfreq(len(samples), 1 / 44100)[spectrum.argmax()] == pytest.approx(440, abs=1)
    assert np.abs(samples).max() == pytest.approx(0.3 * 32767, rel=0.01)
    assert abs(int(samples[0])) < 50 and abs(int(samples[-1])) < 50


@pytest.mark.parametrize("kwargs", [{"seconds": 0}, {"amplitude": 1.5}, {"frequency_hz": -1}])
def test_tone_refuses_nonsense(kwargs) -> None:
    with pytest.raises(ValueError):
        media_check.tone_samples(**kwargs)


# --- browsers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "name", "version", "verdict"),
    [
        (CHROME, "Google Chrome", 131, Verdict.ok),
        (FIREFOX, "Mozilla Firefox", 128, Verdict.ok),
        (EDGE, "Microsoft Edge", 131, Verdict.ok),
        (IE11, "Internet Explorer", 11, Verdict.unsupported),
        (IE9, "Internet Explorer", 9, Verdict.unsupported),
        (LEGACY_EDGE, "Microsoft Edge (ancienne version)", 18, Verdict.unsupported),
        (OLD_CHROME, "Google Chrome", 79, Verdict.outdated),
        (SAFARI, "Safari", 17, Verdict.untested),
        (OPERA, "Opera", 114, Verdict.untested),
        (CHROME_IOS, "Google Chrome", 131, Verdict.untested),
        ("curl/8.5.0", "", None, Verdict.untested),
        ("", "", None, Verdict.unknown),
    ],
)
def test_check_browser_names_the_browser_and_judges_it(agent, name, version, verdict) -> None:
    check = check_browser(agent)
    assert (check.name, check.version, check.verdict) == (name, version, verdict)


def test_only_internet_explorer_is_flagged_as_internet_explorer() -> None:
    assert check_browser(IE11).is_internet_explorer
    assert not check_browser(LEGACY_EDGE).is_internet_explorer
