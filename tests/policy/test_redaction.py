"""Redaction projects checked, their geometry interpolated, the filter graph, face tracks linked."""

from __future__ import annotations

import pytest

from policy.face_tracks import iou, link, suggest
from policy.redaction import (
    ProjectInvalid,
    audio_graph,
    parse_project,
    position_at,
    region_size,
    video_graph,
)

TRACK = {"shape": "rect", "mode": "blur", "label": "bystander",
         "keyframes": [{"t_ms": 0, "x": 0, "y": 0, "w": 100, "h": 100},
                       {"t_ms": 1000, "x": 200, "y": 100, "w": 60, "h": 60}]}


def test_a_project_round_trips_to_its_canonical_form() -> None:
    project = parse_project({"tracks": [TRACK], "audio": [{"start_ms": 500, "end_ms": 900, "mode": "bleep"}]})
    assert project.as_json()["tracks"][0] == TRACK
    assert project.as_json()["audio"] == [{"start_ms": 500, "end_ms": 900, "mode": "bleep"}]


@pytest.mark.parametrize(("body", "words"), [
    ({"tracks": [{**TRACK, "mode": "smudge"}]}, "tracks[0].mode"),
    ({"tracks": [{**TRACK, "keyframes": []}]}, "at least one keyframe"),
    ({"tracks": [{**TRACK, "keyframes": [TRACK["keyframes"][1], TRACK["keyframes"][0]]}]}, "increasing time"),
    ({"tracks": [{**TRACK, "keyframes": [{"t_ms": 0.5, "x": 0, "y": 0, "w": 9, "h": 9}]}]}, "t_ms"),
    ({"tracks": [{**TRACK, "keyframes": [{"t_ms": 0, "x": 0, "y": 0, "w": 1, "h": 9}]}]}, ".w"),
    ({"audio": [{"start_ms": 900, "end_ms": 900}]}, "must come after"),
    ({"audio": [{"start_ms": 0, "end_ms": 9, "mode": "hum"}]}, "audio[0].mode"),
    ({"tracks": [], "extra": 1}, "unknown member"),
    ([], "an object"),
])
def test_a_bad_project_is_refused_naming_the_part(body: object, words: str) -> None:
    with pytest.raises(ProjectInvalid, match=__import__("re").escape(words)):
        parse_project(body)


def test_a_region_must_lie_in_the_frame_when_its_size_is_known() -> None:
    parse_project({"tracks": [TRACK]}, width=300, height=200)
    with pytest.raises(ProjectInvalid, match="past the frame's width 250"):
        parse_project({"tracks": [TRACK]}, width=250, height=200)


def test_the_centre_moves_linearly_and_the_size_is_the_largest_keyframe() -> None:
    track = parse_project({"tracks": [TRACK]}).tracks[0]
    assert region_size(track) == (100, 100)
    assert position_at(track, 0) == (0, 0)
    assert position_at(track, 1000) == (180, 80)  # centre (230, 130), size 100
    assert position_at(track, 500) == (90, 40)  # centre halfway: (140, 90)
    assert position_at(track, 1001) is None


def test_the_video_graph_enables_each_track_only_over_its_span() -> None:
    project = parse_project({"tracks": [TRACK, {**TRACK, "mode": "box", "shape": "ellipse"}]})
    graph, out = video_graph(project, 640, 360)
    assert out == "[base2]"
    assert graph.count("enable='between(t,0.000,1.000)'") == 2
    assert "split=3" in graph and "lutyuv" in graph and "geq=" in graph


def test_audio_ranges_mute_and_bleep() -> None:
    assert audio_graph(parse_project({}), 48000) is None
    muted = audio_graph(parse_project({"audio": [{"start_ms": 1000, "end_ms": 2000}]}), 48000)
    assert muted is not None and "between(t,1.000,2.000)" in muted[0] and "sine" not in muted[0]
    bleeped = audio_graph(parse_project({"audio": [{"start_ms": 0, "end_ms": 10, "mode": "bleep"}]}), 48000)
    assert bleeped is not None and "sine=frequency=1000" in bleeped[0]


def test_detections_link_into_tracks_by_overlap() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert iou((0, 0, 10, 10), (20, 0, 10, 10)) == 0
    samples = [(t * 100, [(t * 5, 0, 50, 50), (500, 300, 40, 40)] if t != 3 else [(t * 5, 0, 50, 50)])
               for t in range(10)]
    samples.append((1000, [(900, 900, 30, 30)]))  # seen once: noise
    tracks = link(samples)
    assert len(tracks) == 2
    assert [t for t, _ in tracks[0]] == [t * 100 for t in range(10)]
    assert len(tracks[1]) == 9  # the miss at sample 3 does not end it
    proposed = suggest(samples, 1280, 720)
    assert len(proposed) == 2 and proposed[0]["label"] == "face"
    parse_project({"tracks": proposed}, width=1280, height=720)  # suggestions are valid tracks
