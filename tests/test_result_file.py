"""load() checks a result file before trusting it: archive, format version, members, dtypes, shapes."""

import io
import json
import re
import tracemalloc
import zipfile

import numpy as np
import pytest

from labelnoise_sim import SimulationResult, load, simulate

SMALL = dict(n=12, d=40, m=2, steps=20, record=5)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A result and the members of its file, as save() writes them."""
    result = simulate(**SMALL)
    path = result.save(tmp_path_factory.mktemp("saved") / "run.npz")
    with np.load(path, allow_pickle=False) as f:
        members = {name: f[name] for name in f.files}
    return result, members


def _write(path, members):
    with open(path, "wb") as fh:
        np.savez(fh, **members)
    return path


def _meta(members, **changes):
    meta = json.loads(str(members["meta"]))
    meta.update(changes)
    return np.array(json.dumps(meta))


def _refused(path, *fragments):
    """load() raises ValueError naming the file and every fragment of what is wrong."""
    for reader in (load, SimulationResult.load):
        with pytest.raises(ValueError) as info:
            reader(path)
        message = str(info.value)
        assert str(path) in message, message
        for fragment in fragments:
            assert re.search(fragment, message), (fragment, message)


def test_a_saved_result_loads_back_with_both_samplings(tmp_path):
    for sampling in ("explicit", "gram"):
        result = simulate(**SMALL, sampling=sampling)
        back = load(result.save(tmp_path / f"{sampling}.npz"))
        np.testing.assert_array_equal(back.rho, result.rho)
        assert back.data.has_vectors == (sampling == "explicit")


@pytest.mark.parametrize("content", [b"", b"not an npz at all", b"PK\x03\x04 truncated zip"])
def test_a_file_that_is_not_an_archive_is_not_a_result_file(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    _refused(path, "not a labelnoise-sim result file")


def test_a_single_array_or_an_archive_without_meta_is_not_a_result_file(tmp_path, saved):
    _, members = saved
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    _refused(npy, "not a labelnoise-sim result file", "single array")
    _refused(_write(tmp_path / "no_meta.npz", {k: v for k, v in members.items() if k != "meta"}),
             "not a labelnoise-sim result file", "no member 'meta'")
    _refused(_write(tmp_path / "bad_meta.npz", {**members, "meta": np.array("{not json")}),
             "not a labelnoise-sim result file", "meta")
    _refused(_write(tmp_path / "numeric_meta.npz", {**members, "meta": np.arange(3)}),
             "not a labelnoise-sim result file", "meta")


def test_an_unknown_format_version_is_refused(tmp_path, saved):
    _, members = saved
    _refused(_write(tmp_path / "v99.npz", {**members, "meta": _meta(members, format=99)}),
             "format version 99", "reads version 1")
    _refused(_write(tmp_path / "v_none.npz", {**members, "meta": _meta(members, format=None)}),
             "format version None")


@pytest.mark.parametrize("member", ["t", "gamma", "rho", "outputs", "y", "y_noisy", "gram"])
def test_a_missing_member_is_named(tmp_path, saved, member):
    _, members = saved
    path = _write(tmp_path / "missing.npz", {k: v for k, v in members.items() if k != member})
    _refused(path, f"missing member '{member}'")


def test_vectors_come_all_three_or_none(tmp_path, saved):
    _, members = saved
    _refused(_write(tmp_path / "no_xi.npz", {k: v for k, v in members.items() if k != "xi"}),
             "missing member 'xi'", "mu, xi and W0 come together")


@pytest.mark.parametrize(
    "member, shape",
    [("gamma", (5, 2, 3)), ("rho", (5, 2, 2, 11)), ("outputs", (4, 12)), ("t", (4,)), ("y", (11,)),
     ("gram", (18, 18)), ("xi", (12, 41)), ("W0", (2, 2, 39))],
)
def test_a_member_of_the_wrong_shape_is_named_with_the_shape_its_config_needs(tmp_path, saved, member, shape):
    _, members = saved
    bad = np.zeros(shape, dtype=members[member].dtype)
    path = _write(tmp_path / "shape.npz", {**members, member: bad})
    needed = re.escape(str(members[member].shape))
    _refused(path, f"member '{member}' has shape {re.escape(str(shape))}", f"needs {needed}", "n=12")


@pytest.mark.parametrize("member, dtype", [("rho", np.float32), ("t", np.float64), ("y", np.float64),
                                           ("gram", np.int64)])
def test_a_member_of_the_wrong_dtype_is_named(tmp_path, saved, member, dtype):
    _, members = saved
    path = _write(tmp_path / "dtype.npz", {**members, member: members[member].astype(dtype)})
    _refused(path, f"member '{member}' has dtype {np.dtype(dtype)}")


def test_recorded_steps_must_be_those_of_the_config(tmp_path, saved):
    _, members = saved
    path = _write(tmp_path / "steps.npz", {**members, "t": members["t"][::-1].copy()})
    _refused(path, "member 't'", "recorded steps")


def test_an_invalid_config_or_sampling_is_named(tmp_path, saved):
    _, members = saved
    config = json.loads(str(members["meta"]))["config"]
    _refused(_write(tmp_path / "eta.npz", {**members, "meta": _meta(members, config={**config, "eta": -1.0})}),
             "config", "eta must be")
    _refused(_write(tmp_path / "key.npz", {**members, "meta": _meta(members, config={**config, "lr": 1.0})}),
             "config", "lr")
    _refused(_write(tmp_path / "sampling.npz", {**members, "meta": _meta(members, sampling="magic")}),
             "sampling", "magic")


def test_a_pickled_member_is_never_unpickled(tmp_path, saved):
    _, members = saved
    rho = np.empty(members["rho"].shape, dtype=object)
    rho[...] = 0.0
    _refused(_write(tmp_path / "pickled.npz", {**members, "rho": rho}), "member 'rho'")


def test_only_the_members_a_result_needs_are_read(tmp_path, saved):
    result, members = saved
    # An extra pickled member would fail to load under allow_pickle=False if it were read.
    extra = np.empty(2, dtype=object)
    path = _write(tmp_path / "extra.npz", {**members, "notes": extra})
    np.testing.assert_array_equal(load(path).outputs, result.outputs)


def test_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.npz")


#: Peak bytes that load() may allocate to refuse a crafted file of the sizes below: its members are read
#: only once their headers fit the config and the file (here they are refused first). The file of SMALL is
#: 15 KB; measured peaks to refuse the files below, 15-57 KB (zip directory, headers, the meta string).
REFUSAL_PEAK = 2**20


def _npy_header(shape, dtype=np.float64) -> bytes:
    """The .npy header of an array of ``shape``, without its data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, np.lib.format.header_data_from_array_1_0(np.empty(0, dtype))
                                         | {"shape": shape})
    return buffer.getvalue()


def _refused_without_allocating(path, *fragments):
    """load() refuses ``path`` naming each fragment, allocating at most REFUSAL_PEAK bytes on the way."""
    tracemalloc.start()  # numpy reports its array allocations to tracemalloc
    try:
        _refused(path, *fragments)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < REFUSAL_PEAK, peak


def test_a_member_declaring_a_huge_shape_is_refused_before_anything_is_allocated(tmp_path, saved):
    # Before: numpy allocated the 8 TB the header declares (MemoryError).
    _, members = saved
    path = _write(tmp_path / "huge.npz", {k: v for k, v in members.items() if k != "rho"})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("rho.npy", _npy_header((10**12,)))
    _refused_without_allocating(path, "member 'rho' declares shape \\(1000000000000,\\)", "holds 0 bytes")


def test_a_meta_member_declaring_a_huge_string_is_refused_before_anything_is_allocated(tmp_path, saved):
    _, members = saved
    path = _write(tmp_path / "meta.npz", {k: v for k, v in members.items() if k != "meta"})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("meta.npy", _npy_header((10**10,), np.dtype("<U1")))
    _refused_without_allocating(path, "not a labelnoise-sim result file", "meta")


@pytest.mark.parametrize("steps", [10**8, 10**12])
def test_a_config_declaring_more_records_than_the_file_holds_is_refused_before_making_its_steps(
        tmp_path, saved, steps):
    # Before: the recorded steps of the config (an array of steps + 1) were made to be compared with 't':
    # MemoryError at 10**12, and 0.8 GB and minutes at 10**8 (issue 22).
    _, members = saved
    config = json.loads(str(members["meta"]))["config"]
    path = _write(tmp_path / "steps.npz", {**members, "meta": _meta(members, config={**config, "steps": steps,
                                                                                     "record": 1})})
    _refused_without_allocating(path, "member 't' has shape \\(5,\\)", f"needs \\({steps + 1},\\)")


def test_a_compressed_member_is_refused_as_it_could_expand_past_the_file(tmp_path, saved):
    _, members = saved
    path = tmp_path / "compressed.npz"
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **members)
    _refused_without_allocating(path, "member '\\w+' is compressed")


@pytest.mark.parametrize("member", ["gamma", "rho", "outputs", "gram"])
def test_a_value_that_is_not_finite_is_refused_where_a_result_cannot_hold_one(tmp_path, saved, member):
    _, members = saved
    bad = members[member].copy()
    bad.flat[1] = np.nan
    _refused(_write(tmp_path / "nan.npz", {**members, member: bad}), f"member '{member}'", "not finite")


def test_labels_other_than_plus_and_minus_one_are_refused(tmp_path, saved):
    _, members = saved
    bad = members["y_noisy"].copy()
    bad[0] = 2
    _refused(_write(tmp_path / "labels.npz", {**members, "y_noisy": bad}), "member 'y_noisy'", "-1 and \\+1")


@pytest.mark.parametrize("content", [b"not an npz at all", b"\x80\x04K\x01."])
def test_the_message_for_a_file_that_is_no_archive_never_suggests_allow_pickle(tmp_path, content):
    # numpy's own message for such a file invites allow_pickle=True, which would run the file's code.
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        load(path)
    assert "pickle" not in str(info.value) and "not a zip archive" in str(info.value)
