"""Annotation readers on tiny files written in the exact official formats (CRLF, BOMs, `#` names and all).

The real UCF101, HMDB51, Kinetics and SSv2 files are not reachable here, so each test writes a few lines
shaped like them and checks records, 0-based labels, class names, ids and the one-line errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.data.annotations import (
    ANNOTATION_FORMATS,
    UNLABELED,
    Annotations,
    VideoRecord,
    load_class_names,
    read_annotations,
)
from pipeline.errors import AnnotationError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` byte for byte (no newline translation), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)
    return path


def ids(ann: Annotations) -> list[str]:
    return [r.video_id for r in ann.records]


def labels(ann: Annotations) -> list[int | tuple[int, ...]]:
    return [r.label for r in ann.records]


def test_registered_formats() -> None:
    assert ANNOTATION_FORMATS.names() == ["csv", "folder", "hmdb51", "kinetics", "list", "ssv2", "ucf101"]


def test_unknown_format_lists_allowed(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="allowed: csv, folder, hmdb51"):
        read_annotations("ucf-101", tmp_path)


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    source = write(tmp_path / "train.txt", "a.mp4 0\n")
    with pytest.raises(TypeError, match="'list' has no option 'path_template'"):
        read_annotations("list", source, path_template="{label}")


# ------------------------------------------------------------------------------------------------ list


def test_list_single_label_defaults(tmp_path: Path) -> None:
    source = write(tmp_path / "ann" / "train.txt", "# a comment\n\nrun/a.mp4 2\n  jump/b.mp4\t0  \n")
    ann = read_annotations("list", source)
    assert ids(ann) == ["run/a.mp4", "jump/b.mp4"]
    assert labels(ann) == [2, 0]
    assert ann.class_names == ["0", "1", "2"] and ann.num_classes == 3 and not ann.multilabel
    assert ann.records[0].path == (tmp_path / "ann" / "run" / "a.mp4").absolute()
    assert ann.records[0].path.is_absolute() and ann.records[0].start is None
    assert ann.source == str(source) and len(ann) == 2


def test_list_paths_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    text = "\ufeffcafé au lait/vidéo 1.mp4 1\r\nЖонглирование/клип  два.mkv 0\r\n日本/動画 3.webm 1\r\n"
    source = write(tmp_path / "train.txt", text)
    ann = read_annotations("list", source, root=tmp_path / "videos")
    assert ids(ann) == ["café au lait/vidéo 1.mp4", "Жонглирование/клип  два.mkv", "日本/動画 3.webm"]
    assert labels(ann) == [1, 0, 1]
    assert ann.records[1].path == (tmp_path / "videos" / "Жонглирование" / "клип  два.mkv").absolute()


def test_list_multilabel_gives_every_record_a_tuple(tmp_path: Path) -> None:
    source = write(tmp_path / "train.txt", "a.mp4 3 7 12\nb c.mp4 5\nd.mp4 -1\n")
    ann = read_annotations("list", source)
    assert labels(ann) == [(3, 7, 12), (5,), ()]
    assert ann.multilabel and ann.num_classes == 13


@pytest.mark.parametrize("how", ["list", "file", "beside"])
def test_list_class_names(tmp_path: Path, how: str) -> None:
    names = ["Apply Eye Makeup", "Zumba", "Ökonomie"]
    source = write(tmp_path / "train.txt", "x.mp4 2\ny.mp4 0\n")
    names_file = write(tmp_path / ("classes.txt" if how == "beside" else "names.txt"), "\n".join(names) + "\n")
    given = {"list": names, "file": names_file, "beside": None}[how]
    ann = read_annotations("list", source, class_names=given)
    assert ann.class_names == names and labels(ann) == [2, 0]


def test_list_unlabeled_single_label(tmp_path: Path) -> None:
    ann = read_annotations("list", write(tmp_path / "test.txt", "a.mp4 -1\nb.mp4 1\n"))
    assert labels(ann) == [UNLABELED, 1] and ann.class_names == ["0", "1"]


def test_list_absolute_path_outside_root(tmp_path: Path) -> None:
    ann = read_annotations("list", write(tmp_path / "l.txt", "/data/elsewhere/a.mp4 0\n"))
    assert ann.records[0].path == Path("/data/elsewhere/a.mp4")
    assert ann.records[0].video_id == "/data/elsewhere/a.mp4"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("a.mp4 0\nb.mp4 x\n", 2, "label 'x' is not an integer"),
        ("a.mp4 0\n\n# c\nb.mp4 1.5\n", 4, "label '1.5' is not an integer"),
        ("a.mp4\n", 1, "no label after the path"),
        ("a.mp4 0\nb.mp4 -3\n", 2, "are not all >= 0"),
        ("a.mp4 1 -1\n", 1, "are not all >= 0"),
    ],
)
def test_list_errors_name_file_and_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    source = write(tmp_path / "my list.txt", text)
    with pytest.raises(AnnotationError) as info:
        read_annotations("list", source)
    assert str(info.value).startswith(f"{source}:{line}: ")
    assert reason in str(info.value) and info.value.line == line
    assert "\n" not in str(info.value)


def test_list_label_out_of_class_range(tmp_path: Path) -> None:
    write(tmp_path / "classes.txt", "a\nb\n")
    source = write(tmp_path / "train.txt", "x.mp4 1\ny.mp4 2\n")
    with pytest.raises(AnnotationError, match=r"train\.txt:2: label 2 out of range: classes\.txt has 2"):
        read_annotations("list", source)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match=r"nope\.txt: no such file$"):
        read_annotations("list", tmp_path / "nope.txt")


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    source = tmp_path / "train.txt"
    source.write_bytes(b"a.mp4 0\nb\xe9.mp4 1\n")
    with pytest.raises(AnnotationError, match=r"train\.txt:2: not UTF-8"):
        read_annotations("list", source)


# ------------------------------------------------------------------------------------------------- csv


def test_csv_int_labels_and_times(tmp_path: Path) -> None:
    text = 'path,label,start,end\r\n"run/a, b.mp4",1,0.5,2.5\r\njump/ü.mp4,0,,\r\n'
    ann = read_annotations("csv", write(tmp_path / "train.csv", text))
    assert ids(ann) == ["run/a, b.mp4", "jump/ü.mp4"] and labels(ann) == [1, 0]
    assert (ann.records[0].start, ann.records[0].end) == (0.5, 2.5)
    assert (ann.records[1].start, ann.records[1].end) == (None, None)
    assert ann.class_names == ["0", "1"]


def test_csv_name_labels_sorted_unique(tmp_path: Path) -> None:
    text = "\ufeffPath,Label\nx.mp4,walk\ny.mp4,Run\nz.mp4,walk\n"
    ann = read_annotations("csv", write(tmp_path / "train.csv", text))
    assert ann.class_names == ["Run", "walk"] and labels(ann) == [1, 0, 1]


def test_csv_name_labels_with_given_class_names(tmp_path: Path) -> None:
    source = write(tmp_path / "val.csv", "path,label\nx.mp4,walk\n")
    ann = read_annotations("csv", source, class_names=["sit", "walk", "run"])
    assert labels(ann) == [1] and ann.num_classes == 3
    with pytest.raises(AnnotationError, match=r"val\.csv:2: class 'walk' not in class_names"):
        read_annotations("csv", source, class_names=["sit"])


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("file,label\nx.mp4,1\n", 1, "no 'path' column"),
        ("path,label\nx.mp4,1\ny.mp4\n", 3, "expected 2 fields, found 1"),
        ("path,label,start,end\nx.mp4,1,a,2\n", 2, "start 'a' is not a number"),
        ("path,label\nx.mp4,\n", 2, "empty label"),
    ],
)
def test_csv_errors(tmp_path: Path, text: str, line: int, reason: str) -> None:
    source = write(tmp_path / "train.csv", text)
    with pytest.raises(AnnotationError, match=rf"train\.csv:{line}: {reason}"):
        read_annotations("csv", source)


# ---------------------------------------------------------------------------------------------- folder


def test_folder(tmp_path: Path) -> None:
    root = tmp_path / "videos"
    for rel in [
        "walk/a.mp4",
        "walk/sub/b.AVI",
        "Run/c.webm",
        "Run/notes.txt",
        "Run/.hidden.mp4",
        ".git/x.mp4",
    ]:
        write(root / rel, "")
    (root / "empty").mkdir()
    ann = read_annotations("folder", root, split=3, subset="test")  # unused arguments are ignored
    assert ann.class_names == ["Run", "empty", "walk"]
    assert ids(ann) == ["Run/c.webm", "walk/a.mp4", "walk/sub/b.AVI"]
    assert labels(ann) == [0, 2, 2]
    assert ann.records[0].path == (root / "Run" / "c.webm").absolute()


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="no such folder"):
        read_annotations("folder", tmp_path / "missing")
    write(tmp_path / "v" / "Foo" / "a.mp4", "")
    with pytest.raises(AnnotationError, match="class 'Foo' not in class_names"):
        read_annotations("folder", tmp_path / "v", class_names=["Bar"])


# ---------------------------------------------------------------------------------------------- ucf101


@pytest.fixture
def ucf(tmp_path: Path) -> Path:
    """A 3-class ucfTrainTestlist folder with the official CRLF line ends and 1-based labels."""
    folder = tmp_path / "ucfTrainTestlist"
    write(folder / "classInd.txt", "1 ApplyEyeMakeup\r\n2 Archery\r\n3 HandstandPushups\r\n")
    write(
        folder / "trainlist01.txt",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
        "Archery/v_Archery_g08_c02.avi 2\r\n"
        "HandstandPushups/v_HandStandPushups_g08_c01.avi 3\r\n",
    )
    write(
        folder / "testlist01.txt",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\nArchery/v_Archery_g01_c01.avi\r\n",
    )
    write(folder / "trainlist02.txt", "Archery/v_Archery_g01_c01.avi 2\r\n")
    return folder


def test_ucf101_train(ucf: Path, tmp_path: Path) -> None:
    ann = read_annotations("ucf101", ucf, root=tmp_path / "UCF-101", split=1, subset="train")
    assert ann.class_names == ["ApplyEyeMakeup", "Archery", "HandstandPushups"]
    assert labels(ann) == [0, 1, 2]
    assert ids(ann)[2] == "HandstandPushups/v_HandStandPushups_g08_c01.avi"
    assert ann.records[1].path == (tmp_path / "UCF-101" / "Archery" / "v_Archery_g08_c02.avi").absolute()


def test_ucf101_test_labels_from_folder(ucf: Path, tmp_path: Path) -> None:
    ann = read_annotations("ucf101", ucf, root=tmp_path, subset="test")
    assert labels(ann) == [0, 1] and ids(ann) == [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
        "Archery/v_Archery_g01_c01.avi",
    ]


def test_ucf101_split_2(ucf: Path, tmp_path: Path) -> None:
    assert labels(read_annotations("ucf101", ucf, root=tmp_path, split=2)) == [1]


@pytest.mark.parametrize(
    ("split", "subset", "reason"),
    [(4, "train", "split must be 1, 2 or 3"), (1, "val", "subset must be 'train' or 'test'")],
)
def test_ucf101_bad_arguments(ucf: Path, tmp_path: Path, split: int, subset: str, reason: str) -> None:
    with pytest.raises(AnnotationError, match=reason):
        read_annotations("ucf101", ucf, root=tmp_path, split=split, subset=subset)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Foo/v_Foo_g01_c01.avi 1", "class 'Foo' not in classInd.txt"),
        (
            "Archery/v_Archery_g01_c01.avi 1",
            "label 1 is 'ApplyEyeMakeup' but the video is in folder 'Archery'",
        ),
        ("Archery/v_Archery_g01_c01.avi 9", r"label 9 not in classInd.txt \(1..3\)"),
        ("Archery/v_Archery_g01_c01.avi two", "expected '<Class>/<video>.avi"),
    ],
)
def test_ucf101_bad_lines(ucf: Path, tmp_path: Path, line: str, reason: str) -> None:
    write(ucf / "trainlist03.txt", f"Archery/v_Archery_g02_c01.avi 2\r\n{line}\r\n")
    with pytest.raises(AnnotationError, match=rf"trainlist03\.txt:2: {reason}"):
        read_annotations("ucf101", ucf, root=tmp_path, split=3)


def test_ucf101_needs_root(ucf: Path) -> None:
    with pytest.raises(ValueError, match="needs root="):
        read_annotations("ucf101", ucf)


# ---------------------------------------------------------------------------------------------- hmdb51


@pytest.fixture
def hmdb(tmp_path: Path) -> Path:
    """Split files as in testTrainMulti_7030_splits: trailing spaces, names starting with '#'."""
    folder = tmp_path / "testTrainMulti_7030_splits"
    write(
        folder / "clap_test_split1.txt",
        "#20_Rhythm_clap_u_nm_np1_fr_goo_0.avi 1 \n#20_Rhythm_clap_u_nm_np1_fr_goo_1.avi 2 \n",
    )
    write(
        folder / "brush_hair_test_split1.txt",
        "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 2 \nBlonde_brush_hair_0.avi 1 \n",
    )
    write(folder / "fall_floor_test_split1.txt", "fall_0.avi 0 \nfall_1.avi 1 \n")
    write(folder / "clap_test_split2.txt", "x.avi 1 \n")
    return folder


def test_hmdb51_train_and_test(hmdb: Path, tmp_path: Path) -> None:
    train = read_annotations("hmdb51", hmdb, root=tmp_path / "videos", split=1, subset="train")
    assert train.class_names == ["brush_hair", "clap", "fall_floor"]
    assert ids(train) == [
        "brush_hair/Blonde_brush_hair_0.avi",
        "clap/#20_Rhythm_clap_u_nm_np1_fr_goo_0.avi",
        "fall_floor/fall_1.avi",
    ]
    assert labels(train) == [0, 1, 2]
    assert train.records[1].path == (tmp_path / "videos" / "clap" / "#20_Rhythm_clap_u_nm_np1_fr_goo_0.avi").absolute()
    test = read_annotations("hmdb51", hmdb, root=tmp_path, subset="test")
    assert ids(test) == [
        "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi",
        "clap/#20_Rhythm_clap_u_nm_np1_fr_goo_1.avi",
    ]
    assert labels(test) == [0, 1]


def test_hmdb51_classes_sort_by_name_not_file_name(tmp_path: Path) -> None:
    folder = tmp_path / "splits"
    write(folder / "push_b_test_split1.txt", "b.avi 1\n")  # sorts first as a file name
    write(folder / "push_test_split1.txt", "a.avi 1\n")
    ann = read_annotations("hmdb51", folder, root=tmp_path)
    assert ann.class_names == ["push", "push_b"] and ids(ann) == ["push/a.avi", "push_b/b.avi"]


def test_hmdb51_errors(hmdb: Path, tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="no <class>_test_split3.txt files"):
        read_annotations("hmdb51", hmdb, root=tmp_path, split=3)
    write(hmdb / "clap_test_split2.txt", "x.avi 1\ny.avi 3\n")
    with pytest.raises(AnnotationError, match=r"clap_test_split2\.txt:2: expected '<video>.avi 0\|1\|2'"):
        read_annotations("hmdb51", hmdb, root=tmp_path, split=2)
    with pytest.raises(AnnotationError, match="split must be 1, 2 or 3"):
        read_annotations("hmdb51", hmdb, root=tmp_path, split=0)


# -------------------------------------------------------------------------------------------- kinetics


KINETICS_TRAIN = (
    "label,youtube_id,time_start,time_end,split,is_cc\n"
    "abseiling,0347ZoDXyP0,95,105,train,0\n"
    '"massaging person\'s head",-0fZv6HsuBE,0,10,train,0\n'
    '"tying knot (not on a tie)",_aB-3_xYz9Q,120,130,train,1\n'
)


def test_kinetics_train(tmp_path: Path) -> None:
    source = write(tmp_path / "annotations" / "train.csv", KINETICS_TRAIN)
    ann = read_annotations("kinetics", source, root=tmp_path / "videos")
    assert ann.class_names == ["abseiling", "massaging person's head", "tying knot (not on a tie)"]
    assert labels(ann) == [0, 1, 2]
    assert ids(ann) == [
        "abseiling/0347ZoDXyP0_000095_000105.mp4",
        "massaging person's head/-0fZv6HsuBE_000000_000010.mp4",
        "tying knot (not on a tie)/_aB-3_xYz9Q_000120_000130.mp4",
    ]
    assert [(r.start, r.end) for r in ann.records] == [(95.0, 105.0), (0.0, 10.0), (120.0, 130.0)]
    assert ann.records[0].path == (tmp_path / "videos" / ids(ann)[0]).absolute()


def test_kinetics_class_names_file_and_template(tmp_path: Path) -> None:
    source = write(tmp_path / "train.csv", KINETICS_TRAIN)
    names = write(
        tmp_path / "kinetics400_classes.txt",
        "abseiling\nair drumming\nmassaging person's head\ntying knot (not on a tie)\n",
    )
    ann = read_annotations(
        "kinetics", source, class_names=names, path_template="{split}/{label_underscored}/{youtube_id}.mp4"
    )
    assert labels(ann) == [0, 2, 3] and ann.num_classes == 4
    assert ids(ann)[1] == "train/massaging_person's_head/-0fZv6HsuBE.mp4"
    with pytest.raises(AnnotationError, match=r"train\.csv:3: class \"massaging person's head\" not in class_names"):
        read_annotations("kinetics", source, class_names=["abseiling"])


def test_kinetics_test_csv_without_labels(tmp_path: Path) -> None:
    source = write(tmp_path / "test.csv", "youtube_id,time_start,time_end,split\n--6bJUbfpnQ,17,27,test\n")
    ann = read_annotations("kinetics", source, class_names=["abseiling"])
    assert labels(ann) == [UNLABELED] and ids(ann) == ["--6bJUbfpnQ_000017_000027.mp4"]
    with pytest.raises(
        AnnotationError, match=r"test\.csv:2: path_template '\{label\}/\{youtube_id\}.mp4' does not fit"
    ):
        read_annotations("kinetics", source, path_template="{label}/{youtube_id}.mp4")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("abseiling,abc,x,10,train", "time_start 'x' is not a number"),
        ("abseiling,abc,10,train", "expected 5 fields"),
    ],
)
def test_kinetics_bad_rows(tmp_path: Path, row: str, reason: str) -> None:
    source = write(tmp_path / "val.csv", f"label,youtube_id,time_start,time_end,split\nabseiling,a,1,2,val\n{row}\n")
    with pytest.raises(AnnotationError, match=rf"val\.csv:3: {reason}"):
        read_annotations("kinetics", source)


# ------------------------------------------------------------------------------------------------ ssv2

SSV2_TEMPLATES = ["Approaching [something] with your camera", "Holding [something] next to [something]"]


@pytest.fixture(params=["brackets removed", "brackets kept"])
def ssv2(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """labels.json keyed as the official file does (no brackets) and as some copies do (brackets kept)."""
    keep = request.param == "brackets kept"
    keys = [t if keep else t.replace("[", "").replace("]", "") for t in SSV2_TEMPLATES]
    write(tmp_path / "labels" / "labels.json", json.dumps({k: str(i) for i, k in enumerate(keys)}, indent=1))
    train = [
        {
            "id": "78687",
            "label": "holding potato next to vicks",
            "template": SSV2_TEMPLATES[1],
            "placeholders": ["potato", "vicks"],
        },
        {
            "id": "42326",
            "label": "approaching a mug with your camera",
            "template": SSV2_TEMPLATES[0],
            "placeholders": ["a mug"],
        },
    ]
    write(tmp_path / "labels" / "train.json", json.dumps(train, indent=4))
    write(tmp_path / "labels" / "test.json", json.dumps([{"id": "1420"}, {"id": "99"}]))
    return tmp_path / "labels"


def test_ssv2_train(ssv2: Path, tmp_path: Path) -> None:
    ann = read_annotations("ssv2", ssv2 / "train.json", root=tmp_path / "videos")
    assert ann.num_classes == 2 and "something" in ann.class_names[1]
    assert labels(ann) == [1, 0] and ids(ann) == ["78687", "42326"]
    assert ann.records[0].path == (tmp_path / "videos" / "78687.webm").absolute()


def test_ssv2_test_has_no_labels(ssv2: Path, tmp_path: Path) -> None:
    ann = read_annotations("ssv2", ssv2 / "test.json", root=tmp_path)
    assert labels(ann) == [UNLABELED, UNLABELED] and ids(ann) == ["1420", "99"]


def test_ssv2_unknown_template_names_its_line(ssv2: Path, tmp_path: Path) -> None:
    items = [{"id": "1", "template": SSV2_TEMPLATES[0]}, {"id": "2", "template": "Juggling [something]"}]
    source = write(ssv2 / "validation.json", json.dumps(items, indent=4))
    with pytest.raises(AnnotationError, match=r"validation\.json:6: template 'Juggling \[something\]' not in"):
        read_annotations("ssv2", source, root=tmp_path)


def test_ssv2_official_labels_name_and_bad_json(tmp_path: Path) -> None:
    write(tmp_path / "something-something-v2-labels.json", '{"Pushing something": "0"}')
    source = write(tmp_path / "v.json", '[{"id": "5", "template": "Pushing [something]"}]')
    assert labels(read_annotations("ssv2", source, root=tmp_path)) == [0]
    write(source, '[\n{"id": "5"},\n{"id": 6,}\n]')
    with pytest.raises(AnnotationError, match=r"v\.json:3: invalid JSON"):
        read_annotations("ssv2", source, root=tmp_path)
    write(source, '[{"id": "5"}] x')
    with pytest.raises(AnnotationError, match=r"v\.json:1: invalid JSON: Extra data"):
        read_annotations("ssv2", source, root=tmp_path)
    write(
        source,
        '[\n  {"id": "5", "placeholders": ["a,]", {"b": 1}]},\n  {"template": "Pushing [something]"}\n]',
    )
    with pytest.raises(AnnotationError, match=r"v\.json:3: expected an object with an 'id'"):
        read_annotations("ssv2", source, root=tmp_path)


# ---------------------------------------------------------------------------------------- class names


def test_load_class_names(tmp_path: Path) -> None:
    assert load_class_names(write(tmp_path / "c.txt", "\ufeffa b\r\n\r\nc\r\n")) == ["a b", "c"]
    assert load_class_names(write(tmp_path / "c.json", '["x", "y"]')) == ["x", "y"]
    assert load_class_names(write(tmp_path / "m.json", '{"y": "1", "x": "0"}')) == ["x", "y"]
    with pytest.raises(AnnotationError, match=r"d\.txt:3: class 'a' repeated \(first on line 1\)"):
        load_class_names(write(tmp_path / "d.txt", "a\nb\na\n"))
    with pytest.raises(AnnotationError, match="indices are not 0..1"):
        load_class_names(write(tmp_path / "n.json", '{"y": "2", "x": "0"}'))


# ---------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", ["ucf101", "kinetics", "multilabel", "unicode"])
def test_round_trip_through_list_file(tmp_path: Path, ucf: Path, kind: str) -> None:
    root = tmp_path / "videos"
    if kind == "ucf101":
        original = read_annotations("ucf101", ucf, root=root)
    elif kind == "kinetics":
        original = read_annotations("kinetics", write(tmp_path / "k.csv", KINETICS_TRAIN), root=root)
    elif kind == "multilabel":
        original = read_annotations("list", write(tmp_path / "m.txt", "a b.mp4 3 1\nc.mp4 0\nd.mp4 -1\n"), root=root)
    else:
        original = read_annotations("list", write(tmp_path / "u.txt", "naïve/日本 語.mp4 0\n"), root=root)
    out = tmp_path / "lists" / "train.txt"
    original.to_list_file(out, root=root)
    original.save_class_names(out.parent / "classes.txt")
    again = read_annotations("list", out, root=root)
    assert again.records == [VideoRecord(r.path, r.label, r.video_id) for r in original.records]
    assert again.class_names == original.class_names


def test_to_list_file_outside_root_writes_absolute(tmp_path: Path) -> None:
    ann = Annotations([VideoRecord(Path("/elsewhere/a.mp4"), 0, "a.mp4")], ["x"], "mem")
    out = ann.to_list_file(tmp_path / "l.txt", root=tmp_path)
    assert out.read_text(encoding="utf-8") == "/elsewhere/a.mp4 0\n"


@pytest.mark.parametrize("name", ["clip 12", "#hash.mp4", " lead.mp4", "new\nline.mp4"])
def test_to_list_file_refuses_ambiguous_paths(tmp_path: Path, name: str) -> None:
    ann = Annotations([VideoRecord(tmp_path / name, 0, name)], ["x"], "mem")
    with pytest.raises(ValueError, match="cannot be written to a list file"):
        ann.to_list_file(tmp_path / "l.txt", root=tmp_path)
