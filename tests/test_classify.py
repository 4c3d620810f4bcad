"""ImageNet class names, torchvision's eval preprocessing, classify() and the classify command.

Expected values are worked out by hand here: output sizes and crop corners from
torchvision's rules (shorter side 256, long side truncated; crop corner rounded half to
even), normalised pixel values from the mean/std formula, and softmax probabilities of a
linear model whose weights are set by hand.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from minialex import backend, nn
from minialex.classify import Prediction, classify
from minialex.cli import classify as classify_cli
from minialex.data import imagenet
from minialex.data.imagenet import eval_crops, imagenet_classes, open_rgb

np = backend.np
Image = pytest.importorskip("PIL.Image", reason="Pillow is needed to read photos")


def test_imagenet_classes_are_torchvisions_1000_names():
    names = imagenet_classes()
    assert len(names) == 1000 and len(set(names)) == 1000
    # anchors of torchvision's order (its _IMAGENET_CATEGORIES)
    assert (names[0], names[1], names[281], names[999]) == ("tench", "goldfish", "tabby",
                                                           "toilet tissue")
    assert all(name == name.strip() and name for name in names)
    header = (Path(imagenet.__file__).parent / "imagenet_classes.txt").read_text().splitlines()
    assert any("torchvision" in line and "_meta.py" in line for line in header[:6])


def save_image(path: Path, array, **options) -> Path:
    Image.fromarray(array).save(path, **options)
    return path


def test_resize_and_centre_crop_follow_torchvisions_rounding(tmp_path):
    rng = np.random.default_rng(0)
    # 500x375: shorter side 375 -> 256, longer int(256 * 500 / 375) = int(341.33) = 341;
    # crop corner left round((341 - 224) / 2) = round(58.5) = 58 (half to even), top 16
    pixels = rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)
    img = Image.fromarray(pixels)
    resized = img.resize((341, 256), Image.BILINEAR)
    expected = np.asarray(resized.crop((58, 16, 282, 240)), dtype=np.float32)
    got = eval_crops(save_image(tmp_path / "a.png", pixels))
    assert got.shape == (1, 3, 224, 224) and got.dtype == np.float32
    mean, std = np.float32(imagenet.MEAN), np.float32(imagenet.STD)
    manual = (expected / np.float32(255) - mean) / std
    np.testing.assert_array_equal(got[0], manual.transpose(2, 0, 1))
    # 518x512 -> 259x256: left = round(35 / 2) = round(17.5) = 18, not floor(17.5) = 17
    pixels = rng.integers(0, 256, (512, 518, 3), dtype=np.uint8)
    resized = Image.fromarray(pixels).resize((259, 256), Image.BILINEAR)
    expected = np.asarray(resized.crop((18, 16, 242, 240)), dtype=np.float32)
    got = eval_crops(save_image(tmp_path / "b.png", pixels))
    np.testing.assert_array_equal(got[0], ((expected / np.float32(255) - mean) / std)
                                  .transpose(2, 0, 1))


def test_normalisation_of_a_constant_colour_by_hand(tmp_path):
    path = save_image(tmp_path / "c.png", np.full((300, 260, 3), (255, 0, 128), np.uint8))
    got = eval_crops(path)[0]
    by_hand = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (128 / 255 - 0.406) / 0.225]
    for channel, value in enumerate(by_hand):
        assert np.allclose(got[channel], value, rtol=1e-6, atol=1e-6)


def test_ten_crops_are_the_corners_centre_and_mirrors_of_the_central_256_square(tmp_path):
    rng = np.random.default_rng(2)
    path = save_image(tmp_path / "d.png", rng.integers(0, 256, (256, 300, 3), dtype=np.uint8))
    crops = eval_crops(path, ten_crop_mode=True)
    assert crops.shape == (10, 3, 224, 224)
    # 300x256 needs no resize; the central 256 square starts at round(44 / 2) = 22
    square = np.asarray(Image.open(path).crop((22, 0, 278, 256)), dtype=np.float32)
    square = ((square / np.float32(255) - np.float32(imagenet.MEAN)) / np.float32(imagenet.STD))
    square = square.transpose(2, 0, 1)
    corners = [(0, 0), (0, 32), (32, 0), (32, 32), (16, 16)]  # 256 - 224 = 32
    for k, (top, left) in enumerate(corners):
        window = square[:, top:top + 224, left:left + 224]
        np.testing.assert_array_equal(crops[k], window)
        np.testing.assert_array_equal(crops[k + 5], window[:, :, ::-1])


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK"])
def test_any_pillow_mode_becomes_rgb(tmp_path, mode):
    img = Image.new("RGB", (240, 230), (10, 200, 30)).convert(mode)
    path = tmp_path / ("e.jpg" if mode in ("L", "CMYK") else "e.png")
    img.save(path)
    assert open_rgb(path).mode == "RGB"
    assert eval_crops(path).shape == (1, 3, 224, 224)


def colour_model() -> nn.Module:
    """1000 logits from the image's mean colour: red -> class 281, blue -> class 1."""
    model = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(3, 1000))
    w = np.zeros((1000, 3), np.float32)
    w[281, 0], w[1, 2] = 2.0, 2.0
    model[2].weight.data = w
    model[2].bias.data = np.zeros(1000, np.float32)
    return model


def softmax_by_hand(logits: dict[int, float], n: int = 1000) -> tuple[dict[int, float], float]:
    """p_i = e^(z_i) / (sum over the listed logits + the zero logits' e^0 = 1 each); also
    the probability of each class whose logit is 0."""
    total = sum(math.exp(z) for z in logits.values()) + (n - len(logits))
    return {i: math.exp(z) / total for i, z in logits.items()}, 1 / total


def test_classify_returns_the_top_classes_with_softmax_probabilities(tmp_path):
    red = save_image(tmp_path / "red.png", np.full((256, 256, 3), (255, 0, 0), np.uint8))
    blue = save_image(tmp_path / "blue.jpg", np.full((300, 280, 3), (0, 0, 255), np.uint8),
                      quality=100)
    r, b = (1 - 0.485) / 0.229, (0 - 0.406) / 0.225  # pure red: normalised R and B values
    expected, p_zero = softmax_by_hand({281: 2 * r, 1: 2 * b})
    model = colour_model()
    model.train()
    (pred_red, pred_blue) = classify(model, [red, blue], top=3)
    assert model.training  # mode restored
    assert pred_red.indices[0] == 281 and pred_red.labels[0] == "tabby"
    assert pred_red.probabilities[0] == pytest.approx(expected[281], rel=1e-5)
    # then the 997 classes with logit 0, tied: the lowest indices first (class 1 is last)
    assert pred_red.indices == (281, 0, 2)
    assert pred_red.probabilities[1:] == pytest.approx((p_zero, p_zero), rel=1e-5)
    assert pred_blue.indices[0] == 1 and pred_blue.labels[0] == "goldfish"
    assert len(pred_red.indices) == 3 and pred_red.image == str(red)
    table = str(pred_red)
    assert "tabby" in table and f"{100 * expected[281]:.2f}%" in table
    assert classify(model, [red], top=1, ten_crop=True)[0].crops == 10


def test_classify_rejects_bad_top_and_unreadable_images(tmp_path):
    model = colour_model()
    good = save_image(tmp_path / "ok.png", np.zeros((230, 230, 3), np.uint8))
    for top in (0, 1001, 2.5, True):
        with pytest.raises(ValueError, match="top must be an integer from 1 to 1000"):
            classify(model, [good], top=top)
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    truncated = tmp_path / "cut.jpg"
    save_image(tmp_path / "full.jpg", np.random.default_rng(0).integers(
        0, 256, (300, 300, 3), dtype=np.uint8))
    truncated.write_bytes((tmp_path / "full.jpg").read_bytes()[:2000])
    for bad in (text, truncated):
        with pytest.raises(ValueError, match=f"{bad}: not a readable image"):
            classify(model, [bad])
    with pytest.raises(FileNotFoundError):
        classify(model, [tmp_path / "absent.png"])


def test_decompression_bomb_limit_is_an_error_naming_the_file(tmp_path, monkeypatch):
    path = save_image(tmp_path / "big.png", np.zeros((300, 300, 3), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300 * 300 // 4)  # 4x over: Pillow errors
    with pytest.raises(ValueError, match=f"{path}: image too large"):
        open_rgb(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300 * 300 - 1)  # just over: a warning
    with pytest.raises(ValueError, match="too large"):
        open_rgb(path)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m minialex")
    classify_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_command_without_weights_says_where_to_get_the_file(tmp_path, capsys):
    args = parse(["classify", str(tmp_path / "photo.jpg")])
    assert args.run(args) == 2
    err = capsys.readouterr().err
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in err
    assert "--weights" in err


def test_command_prints_a_table_per_image_and_one_line_per_bad_file(tmp_path, capsys,
                                                                   monkeypatch):
    import minialex.models

    model = colour_model()
    model.num_classes = 1000
    monkeypatch.setattr(minialex.models, "alexnet", lambda variant, weights: model)
    red = save_image(tmp_path / "red.png", np.full((256, 256, 3), (255, 0, 0), np.uint8))
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    args = parse(["classify", str(red), str(junk), str(tmp_path / "gone.jpg"), "--weights",
                  "w.pth", "--top", "2"])
    assert args.run(args) == 2  # one or more images failed
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith(str(red)) and "tabby" in out.splitlines()[2]
    assert len([line for line in out.splitlines() if line.strip()]) == 4  # title, header, 2
    errors = err.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("minialex classify: error: ") for e in errors)
    assert any("gone.jpg: no such file" in e for e in errors)
    assert any("junk.png: not a readable image" in e for e in errors)


def test_command_rejects_a_bad_top_before_loading(capsys):
    with pytest.raises(SystemExit):
        parse(["classify", "x.jpg", "--weights", "w.pth", "--top", "0"])
    assert "1 to 1000" in capsys.readouterr().err


def test_prediction_rows_are_data():
    p = Prediction("x.jpg", (3, 7), ("a", "b"), (0.75, 0.25))
    assert p.rows() == [(1, 0.75, 3, "a"), (2, 0.25, 7, "b")]


def test_python_m_minialex_classify_reports_a_bad_weights_file_in_one_line(tmp_path, capsys):
    from minialex.cli import main

    photo = save_image(tmp_path / "p.png", np.zeros((240, 240, 3), np.uint8))
    assert main(["classify", str(photo)]) == 2
    assert "alexnet-owt-7be5be79.pth" in capsys.readouterr().err
    notes = tmp_path / "notes.pth"
    notes.write_text("not weights")
    assert main(["classify", str(photo), "--weights", str(notes)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("minialex classify: error: ")
    assert str(notes) in err[0] and "not a weights file" in err[0]
