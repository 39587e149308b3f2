"""The report model's frozen dataclasses keep dataclass behaviour with the faster __init__."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from verify.model import FileInfo, HeaderField, KeyTrial, Report, Verdict, fast_init, replace


def _report(**kw: object) -> Report:
    return Report(FileInfo("m.eml", 1, "00"), Verdict.UNSIGNED, "s", (), (), (), (), None, None, **kw)  # type: ignore[arg-type]


def test_fields_defaults_and_factories() -> None:
    h = HeaderField(3, "Subject", "hi")
    assert (h.index, h.name, h.value) == (3, "Subject", "hi")
    assert HeaderField(index=3, value="hi", name="Subject") == h
    assert hash(h) == hash(HeaderField(3, "Subject", "hi"))
    a, b = _report(), _report()
    assert a.extra == {} and a.extra is not b.extra  # default_factory runs per instance
    assert a.rerun is None and a.repairs == () and _report(rerun="x").rerun == "x"
    assert KeyTrial.__init__.__qualname__ == "KeyTrial.__init__"


def test_still_frozen_comparable_replaceable_picklable() -> None:
    h = HeaderField(1, "From", "a@example.org")
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.name = "To"  # type: ignore[misc]
    assert dataclasses.replace(h, name="To") == HeaderField(1, "To", "a@example.org")
    assert pickle.loads(pickle.dumps(_report())) == _report()
    with pytest.raises(TypeError):
        HeaderField(1, "From")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        HeaderField(1, "From", "x", "extra")  # type: ignore[call-arg]


def test_classes_it_cannot_speed_up_keep_their_own_init() -> None:
    @dataclass(frozen=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    @dataclass(frozen=True)
    class Computed:
        n: int
        double: int = field(init=False, default=0)

    for cls in (Checked, Computed):
        before = cls.__init__
        assert fast_init(cls).__init__ is before
    with pytest.raises(ValueError):
        Checked(-1)


def test_keyword_only_fields() -> None:
    @fast_init
    @dataclass(frozen=True, kw_only=True)
    class Opts:
        a: int
        b: str = "x"
        c: tuple[int, ...] = field(default_factory=tuple)

    assert Opts(a=1) == Opts(a=1, b="x", c=())
    with pytest.raises(TypeError):
        Opts(1)  # type: ignore[misc]


def test_replace_matches_dataclasses_replace() -> None:
    r = _report(rerun="a", extra={"k": 1})
    for changes in ({"rerun": "b"}, {"summary": "t", "repairs": ()}, {}):
        assert replace(r, **changes) == dataclasses.replace(r, **changes)
    assert replace(r, rerun="b").extra is r.extra  # no factory re-run, as dataclasses.replace
    assert replace(r, rerun="b").rerun == "b" and r.rerun == "a"
    with pytest.raises(TypeError, match="nonsense"):
        replace(r, nonsense=1)
    assert replace(HeaderField(1, "a", "b"), value="c") == HeaderField(1, "a", "c")
