"""Tests of the image encoder (features.cnn and its parts): sizes per backbone, the real
efficientnet-lite0 weights, determinism, unreadable images, the on-disk store and resumption."""

import dataclasses
import json
import shutil
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cgan.errors import DataError, UserFacingError
from cgan.runs.digest import sha256
from cgan.runs.locks import FolderLock
from features import backbones, cnn, store
from features.backbones import build_network, load_backbone
from features.cnn import extract_features, extract_to_folder, main
from features.images import list_images, load_rgb, natural_key
from features.mirflickr import MirFlickr
from tests.fixtures_features import make_image_folder, make_mirflickr

LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
GOOD = ["a/im2.jpg", "a/im10.png", "grey.jpg", "palette.png", "rgb.jpg"]  # natural order
BAD = ["corrupt.jpg", "not_an_image.jpg"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: bit-for-bit repeatable


@pytest.fixture(scope="module")
def lite0():
    return load_backbone("efficientnet-lite0")


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    make_image_folder(folder)
    return folder


# ---------------------------------------------------------------- backbones


def test_alexnet_cut_is_fc7_after_relu():
    """The cut network returns exactly what torchvision's AlexNet computes after fc7's ReLU."""
    import torchvision

    torch.manual_seed(0)
    full = torchvision.models.alexnet(weights=None).eval()
    seen = {}
    full.classifier[5].register_forward_hook(lambda m, i, o: seen.setdefault("fc7", o.clone()))
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        full(x)
        out = backbones.BACKBONES["alexnet"].cut(full)(x)
    assert out.shape == (2, 4096) and out.dtype == torch.float32
    assert torch.equal(out, seen["fc7"]) and (out >= 0).all()


@pytest.mark.parametrize("name", ["alexnet", "vgg16"])
def test_fc7_backbones_give_4096_at_224_without_weights(name):
    """Shapes of the real architectures at 224 px, checked on the meta device (no weights, no compute)."""
    with torch.device("meta"):
        net = build_network(name)
        out = net(torch.empty(3, 3, 224, 224))
    assert tuple(out.shape) == (3, backbones.BACKBONES[name].dim) == (3, 4096)
    assert isinstance(net.head[-1], nn.ReLU) and net.head[-2].in_features == 4096
    assert not any(isinstance(m, nn.Dropout) for m in net.modules()) and not net.training


def test_lite0_uses_the_wheel_weights(lite0):
    assert lite0.weights == {"file": "efficientnet-lite0-57934424.pth", "sha256": LITE0_SHA256}
    assert lite0.dim == 1280 and not lite0.network.training
    assert not any(p.requires_grad for p in lite0.network.parameters())


@pytest.mark.parametrize("name, file", [("alexnet", "alexnet-owt-7be5be79.pth"),
                                        ("vgg16", "vgg16-397923af.pth")])
def test_missing_weights_offline_names_file_place_and_offline_backbone(tmp_path, monkeypatch, name, file):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(DataError) as error:
        load_backbone(name, allow_download=False)
    message = str(error.value)
    assert file in message and str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert "efficientnet-lite0" in message and "TORCH_HOME" in message


def test_failed_download_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(url, dst, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(DataError, match=r"download failed .*no route to host.*efficientnet-lite0"):
        load_backbone("alexnet")
    assert not list((tmp_path / "torch").rglob("*.pth"))


def test_local_weights_file_is_used_and_hashed(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "mine.pth"
    torch.save(backbones.BACKBONES["efficientnet-lite0"].build().state_dict(), path)
    backbone = load_backbone("efficientnet-lite0", weights_file=path)
    assert backbone.weights == {"file": "mine.pth", "sha256": sha256(path)}
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="cannot be loaded"):
        load_backbone("efficientnet-lite0", weights_file=path)
    with pytest.raises(DataError, match="does not exist"):
        load_backbone("alexnet", weights_file=tmp_path / "absent.pth")


# ---------------------------------------------------------------- images


def test_every_image_kind_becomes_rgb(images):
    assert list_images(images) == ["a/im2.jpg", "a/im10.png", "corrupt.jpg", "grey.jpg",
                                   "not_an_image.jpg", "palette.png", "rgb.jpg"]
    for name in GOOD:
        assert load_rgb(images / name).mode == "RGB"
    deep = images / "deep.png"
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(deep)  # 16-bit greyscale
    assert load_rgb(deep).getpixel((0, 0)) == (156, 156, 156)
    for name in BAD:
        with pytest.raises(Exception):  # noqa: B017 - any decoding error will do
            load_rgb(images / name)


# ---------------------------------------------------------------- in-memory API


def test_extract_features_shapes_order_failures_and_determinism(images, lite0):
    paths = [images / n for n in list_images(images)]
    first, failed = extract_features(paths, lite0, batch_size=3)
    again, _ = extract_features(paths, lite0, batch_size=3)
    one_by_one, _ = extract_features(paths, lite0, batch_size=1)
    assert failed == [images / n for n in BAD]
    assert first.shape == (len(GOOD), 1280) and first.dtype == np.float32
    assert np.array_equal(first, again)  # same settings: bit for bit
    np.testing.assert_allclose(first, one_by_one, rtol=1e-4, atol=1e-5)  # batching does not matter
    alone, _ = extract_features([images / "grey.jpg"], lite0)
    np.testing.assert_allclose(alone[0], first[GOOD.index("grey.jpg")], rtol=1e-4, atol=1e-5)
    assert np.isfinite(first).all() and (first >= 0).all() and first.std(axis=0).max() > 0


def test_extract_features_nothing_readable(tmp_path, lite0):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 broken")
    features, failed = extract_features([bad], lite0)
    assert features.shape == (0, 1280) and failed == [bad]


# ---------------------------------------------------------------- on disk: CLI, store, resume


def test_cli_folder_run_reports_the_corrupt_images(images, tmp_path, capsys):
    out, results = tmp_path / "out", tmp_path / "results"
    assert main(["--set", "backbone=efficientnet-lite0", "--set", "num_workers=1", "--set", "batch_size=4",
                 "--images", str(images), "--out", str(out), "--set", f"results_dir={results}",
                 "--threads", "1", "--no-progress"]) == 0
    printed = capsys.readouterr()
    assert "5 of 7 images" in printed.out and "2 image(s) could not be read" in printed.err
    stored = store.load_features(out, expect={"backbone": "efficientnet-lite0", "dim": 1280})
    assert stored.ids == GOOD and stored.features.shape == (5, 1280)
    assert stored.features.dtype == np.float32 and isinstance(stored.features, np.memmap)
    failed = (out / "failed.txt").read_text().splitlines()
    assert [line.split("\t")[0] for line in failed] == BAD and all("\t" in line for line in failed)
    meta = stored.meta
    assert meta["weights"]["sha256"] == LITE0_SHA256 and meta["counts"] == {"images": 7, "features": 5,
                                                                            "failed": 2}
    assert meta["preprocessing"]["center_crop"] == 224 and len(meta["preprocessing"]["mean"]) == 3
    report = json.loads((results / "features_efficientnet-lite0.json").read_text())
    assert report["summary"]["failed"] == 2 and report["provenance"]["commit"]
    assert report["config"]["backbone"] == "efficientnet-lite0" and report["deviations"]
    assert not (out / store.PROGRESS).exists() and not (out / store.PARTIAL).exists()
    with pytest.raises(DataError, match="expected 'alexnet'"):
        store.load_features(out, expect={"backbone": "alexnet"})


def test_cli_defaults_to_mirflickr_under_the_data_root(tmp_path):
    root = tmp_path / "data"
    make_mirflickr(root)
    code = main(["--set", "backbone=efficientnet-lite0", "--set", "num_workers=0", "--no-progress",
                 "--data-root", str(root), "--cache-dir", str(tmp_path / "cache"),
                 "--set", f"results_dir={tmp_path / 'results'}"])
    stored = store.load_features(tmp_path / "cache" / "flickr" / "features" / "efficientnet-lite0")
    assert code == 0 and stored.ids == ["im1.jpg", "im2.jpg", "im3.jpg", "im15001.jpg"]
    report = tmp_path / "results" / "features_efficientnet-lite0.json"
    deviations = json.loads(report.read_text())["deviations"]
    assert any("25,000" in d for d in deviations) and any("ImageNet" in d for d in deviations)


def test_cli_errors_exit_cleanly(tmp_path, capsys):
    from cgan.cli import run_cli

    with pytest.raises(SystemExit) as exit_:
        run_cli(main, ["--set", "backbone=resnet", "--images", str(tmp_path)])
    assert exit_.value.code == 2 and "resnet" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, ["--set", "backbone=efficientnet-lite0", "--images", str(tmp_path), "--out",
                       str(tmp_path / "o")])
    assert exit_.value.code == 2 and "no image files" in capsys.readouterr().err


class Interrupting(nn.Module):
    """Wraps a network; raises KeyboardInterrupt on call number ``fail_at`` (None: never)."""

    def __init__(self, net, fail_at=None):
        super().__init__()
        self.net, self.fail_at, self.calls = net, fail_at, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        return self.net(x)


def test_interrupted_extraction_resumes_where_it_stopped(images, tmp_path, lite0):
    pre = lite0.spec.preprocessing()
    out = tmp_path / "out"
    broken = dataclasses.replace(lite0, network=Interrupting(lite0.network, fail_at=3))
    with pytest.raises(KeyboardInterrupt):
        extract_to_folder(broken, images, out, pre, batch_size=2, checkpoint_seconds=0)
    progress = json.loads((out / store.PROGRESS).read_text())
    # batches: (im2, im10) (corrupt, grey) (not_an_image, palette) <- interrupted, (rgb)
    assert progress["done"] == 4 and progress["rows"] == 3 and not (out / store.FEATURES).exists()
    assert [index for index, _ in progress["failed"]] == [2]

    counting = dataclasses.replace(lite0, network=Interrupting(lite0.network))
    summary = extract_to_folder(counting, images, out, pre, batch_size=2, checkpoint_seconds=0)
    assert summary["resumed_from"] == 4 and summary["session_images"] == 3
    assert summary["all_sessions_seconds"] > summary["session_seconds"] > 0
    assert counting.network.calls == 2  # only the last two batches were computed again
    resumed = store.load_features(out)

    fresh = extract_to_folder(lite0, images, tmp_path / "fresh", pre, batch_size=2)
    reference = store.load_features(tmp_path / "fresh")
    assert resumed.ids == reference.ids == GOOD and fresh["failed"] == summary["failed"] == 2
    assert np.array_equal(np.asarray(resumed.features), np.asarray(reference.features))
    assert (out / "failed.txt").read_text() == (tmp_path / "fresh" / "failed.txt").read_text()

    again = extract_to_folder(counting, images, out, pre, batch_size=2)
    assert again["skipped"] == "already complete" and counting.network.calls == 2


def test_resume_refuses_other_settings(images, tmp_path, lite0):
    out = tmp_path / "out"
    broken = dataclasses.replace(lite0, network=Interrupting(lite0.network, fail_at=2))
    with pytest.raises(KeyboardInterrupt):
        extract_to_folder(broken, images, out, lite0.spec.preprocessing(), batch_size=2, checkpoint_seconds=0)
    other = lite0.spec.preprocessing(resize=240)
    with pytest.raises(DataError, match="--fresh"):
        extract_to_folder(lite0, images, out, other, batch_size=2)
    summary = extract_to_folder(lite0, images, out, other, batch_size=8, fresh=True)
    assert summary["resumed_from"] == 0 and summary["features"] == 5


@pytest.mark.parametrize("rows, keep", [(10, 4), (100_000, 7), (5, 5), (3, 0)])
def test_truncate_rows_rewrites_header_in_place(tmp_path, rows, keep):
    path = tmp_path / "x.npy"
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 3))
    array[:] = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)
    array.flush()
    del array
    store._truncate_rows(path, keep)
    loaded = np.load(path)
    assert loaded.shape == (keep, 3)
    np.testing.assert_array_equal(loaded, np.arange(keep * 3, dtype=np.float32).reshape(keep, 3))
    with open(path, "rb") as handle:
        np.lib.format.read_magic(handle)
        np.lib.format.read_array_header_1_0(handle)
        assert path.stat().st_size == handle.tell() + keep * 12


def test_a_second_extraction_into_a_locked_folder_is_refused_and_a_full_disk_is_checked_first(
        images, tmp_path, lite0, monkeypatch):
    out = tmp_path / "features"
    pre = lite0.spec.preprocessing()
    with FolderLock(out, "feature extraction"):
        with pytest.raises(UserFacingError, match="in use by process .*feature extraction"):
            extract_to_folder(lite0, images, out, pre, batch_size=2)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12, 1000))
    with pytest.raises(UserFacingError, match="not enough free disk space for the image features"):
        extract_to_folder(lite0, images, tmp_path / "full", pre, batch_size=2)


def test_a_folder_other_than_mirflickr_keeps_its_report_beside_its_features(images, tmp_path, monkeypatch):
    monkeypatch.setattr(cnn, "REPO_ROOT", tmp_path / "repo")  # the committed results/ must stay untouched
    out = tmp_path / "out"
    assert main(["--set", "backbone=efficientnet-lite0", "--set", "num_workers=0", "--images", str(images),
                 "--out", str(out), "--threads", "1", "--no-progress"]) == 0
    assert (out / "features_efficientnet-lite0.json").is_file() and not (tmp_path / "repo").exists()


def test_a_stray_file_among_mirflickr_images_is_refused_before_extraction(tmp_path):
    root = tmp_path / "data"
    make_mirflickr(root)
    Image.new("RGB", (8, 8)).save(root / "mirflickr25k" / "mirflickr" / "holiday.jpg")
    with pytest.raises(DataError, match=r"not MIR Flickr images \(imN.jpg\), e.g. holiday.jpg"):
        main(["--set", "backbone=efficientnet-lite0", "--no-progress", "--data-root", str(root),
              "--cache-dir", str(tmp_path / "cache")])
    assert not (tmp_path / "cache" / "flickr" / "features").exists()


def test_latin1_tag_files_keep_their_letters_and_are_counted(tmp_path):
    root = tmp_path / "data"
    make_mirflickr(root)
    dataset = MirFlickr.at(root)
    (dataset.images_dir / "meta" / "tags" / "tags1.txt").write_bytes("café\nnaïve\n".encode("latin-1"))
    assert dataset.tags(1) == ["café", "naïve"] and dataset.latin1_files == {"tags1.txt"}
    assert dataset.tags(2) and dataset.latin1_files == {"tags1.txt"}  # UTF-8 files are read as UTF-8


def test_a_repaired_image_is_extracted_on_the_next_run(images, tmp_path, lite0):
    out, pre = tmp_path / "features", lite0.spec.preprocessing()
    extract_to_folder(lite0, images, out, pre, batch_size=4)
    assert store.failed_ids(out) == BAD
    Image.new("RGB", (40, 30), (200, 30, 90)).save(images / "corrupt.jpg")  # the good file put back
    summary = extract_to_folder(lite0, images, out, pre, batch_size=4)
    assert summary["repaired"] == ["corrupt.jpg"] and summary["failed"] == 1 and summary["features"] == 6
    stored = store.load_features(out)
    assert stored.ids == sorted([*GOOD, "corrupt.jpg"], key=natural_key) and store.failed_ids(out) == BAD[1:]
    alone, _ = extract_features([images / "corrupt.jpg"], lite0, preprocessing=pre)
    np.testing.assert_allclose(stored.features[stored.ids.index("corrupt.jpg")], alone[0], rtol=1e-5, atol=1e-6)
    assert extract_to_folder(lite0, images, out, pre)["repaired"] == []  # nothing more to do


def test_feature_extraction_starts_no_more_decoding_processes_than_spare_cores():
    from features.cnn import decoding_workers

    assert decoding_workers(4, cores=2) == 1 and decoding_workers(4, cores=16) == 4
    assert decoding_workers(4, cores=1) == 0 and decoding_workers(0, cores=8) == 0
