"""The generic fold (JSON merge patch) and the domain pack registry."""

from __future__ import annotations

import pytest

from explorer.domain.decider import DomainError, DomainEvent
from explorer.domain.generic import generic_decider, merge_patch
from explorer.domain.iot import device as dev
from explorer.domain.plugins import DomainPack, decider_for, generic_summary, pack_for, register


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [  # the examples of RFC 7386, appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc_7386(target: object, patch: object, result: object) -> None:
    assert merge_patch(target, patch) == result


def test_merge_patch_does_not_mutate_the_target() -> None:
    target = {"a": {"b": 1}}
    merge_patch(target, {"a": {"b": 2, "c": 3}})
    assert target == {"a": {"b": 1}}


def test_the_generic_decider_folds_any_stream_and_takes_no_commands() -> None:
    decider = generic_decider("Invoice")
    events = [DomainEvent("Created", {"total": 10, "lines": {"1": "pen"}}),
              DomainEvent("Changed", {"total": 12, "lines": {"2": "ink"}}),
              DomainEvent("Paid", {"paid": True, "lines": {"1": None}})]
    assert decider.fold(events) == {"total": 12, "lines": {"2": "ink"}, "paid": True}
    assert decider.initial_state() == {}
    with pytest.raises(DomainError, match="no domain pack"):
        decider.decide(object(), {})


def test_pack_for_knows_devices_and_falls_back_to_the_generic_fold() -> None:
    device = pack_for("Device")
    assert device.known and device.decider is dev.DECIDER and dev.RegisterDevice in device.commands
    assert device.label("calls_in") == "Incoming calls" and device.label("unknown.path") == "unknown.path"
    unknown = pack_for("Invoice")
    assert not unknown.known and unknown.commands == ()
    assert unknown.decider.fold([DomainEvent("X", {"a": 1})]) == {"a": 1}
    assert decider_for("Invoice").stream_type == "Invoice"
    assert unknown.sentence("Paid", {"amount": 3}, "invoice-1") == 'Paid amount=3'


def test_register_a_plugin_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.domain import plugins

    monkeypatch.setattr(plugins, "_PACKS", dict(plugins._PACKS))
    pack = DomainPack(stream_type="Invoice", decider=generic_decider("Invoice"), describe=lambda t, d, s, n: "paid!")
    register(pack)
    assert pack_for("Invoice") is pack and pack.sentence("Paid", {}, "i") == "paid!"


def test_generic_summary_is_cut_to_width() -> None:
    text = generic_summary("Big", {"k": "x" * 200}, width=40)
    assert len(text) == 40 and text.endswith("…")
