"""``skdce evaluate`` (skdce/cli/evaluate.py): PSNR/SSIM tables in CSV and JSON."""

import json
import os

import numpy as np
import pytest

from skdce.io import read_image, write_image

from .._helpers import RNG, dark, invoke


@pytest.fixture
def pairs(tmp_path):
    ref, low, enhanced = tmp_path / "ref", tmp_path / "low", tmp_path / "enh"
    for folder in (ref, low, enhanced):
        folder.mkdir()
    for name in ("1", "2"):
        bright = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        write_image(ref / f"{name}.png", bright)
        write_image(low / f"{name}.png", (bright // 4).astype(np.uint8))
    write_image(enhanced / "1_x.png", read_image(ref / "1.png")[0])  # identical: PSNR inf, SSIM 1
    write_image(enhanced / "2_x.png", read_image(low / "2.png")[0])
    write_image(enhanced / "3_x.png", dark((32, 32, 3)))  # no reference
    return ref, low, enhanced


def test_evaluate_csv_and_json(pairs, tmp_path):
    ref, _, enhanced = pairs
    result = invoke("evaluate", enhanced, ref, "--suffix", "_x", "-o", tmp_path / "scores.json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "name,psnr,ssim" and lines[1] == "1,inf,1.0000"
    assert lines[2].startswith("2,") and lines[3].startswith("mean,")
    assert f"no reference for {enhanced / '3_x.png'}" in result.stderr
    report = json.loads((tmp_path / "scores.json").read_text())
    assert report["count"] == 2 and report["images"][0]["psnr"] is None  # inf is not JSON
    assert 0 < report["images"][1]["psnr"] < 100 and -1 <= report["images"][1]["ssim"] <= 1
    assert report["unmatched"] == [str(enhanced / "3_x.png")]

    write_image(enhanced / "4_x.png", dark((16, 16, 3)))
    write_image(ref / "4.png", dark((32, 32, 3)))
    result = invoke("evaluate", enhanced, ref, "--suffix", "_x", "--json")
    assert result.exit_code == 1
    (failed,) = json.loads(result.stdout)["failed"]
    assert failed["name"] == "4" and failed["reason"] == "sizes differ: 16x16 vs reference 32x32"

    result = invoke("evaluate", enhanced, ref)
    assert result.exit_code == 1 and "no file in" in result.output


def test_evaluate_enhance_in_one_go(pairs):
    ref, low, _ = pairs
    result = invoke("evaluate", low, ref, "--enhance", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["count"] == 2 and report["model"] == "zero-dce++"
    assert all(np.isfinite(r["psnr"]) and -1 <= r["ssim"] <= 1 for r in report["images"])


def test_evaluate_csv_quotes_names(tmp_path):
    import csv

    ref, enh = tmp_path / "ref", tmp_path / "enh"
    ref.mkdir()
    enh.mkdir()
    image = dark((16, 16, 3))
    write_image(ref / "night,1.png", image)
    write_image(enh / 'night,1.png', image)
    result = invoke("evaluate", enh, ref, "-o", tmp_path / "x.csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader((tmp_path / "x.csv").read_text().splitlines()))
    assert rows[0] == ["name", "psnr", "ssim"] and rows[1][0] == "night,1" and rows[2][0] == "mean"
    assert list(csv.reader(result.stdout.splitlines()))[1][0] == "night,1"


def test_evaluate_table_never_replaces_an_image(pairs):
    ref, _, enhanced = pairs
    before = (ref / "1.png").read_bytes()
    result = invoke("evaluate", enhanced, ref, "--suffix", "_x", "-o", ref / "1.png")
    assert result.exit_code == 2 and "one of the images being scored" in result.output
    assert (ref / "1.png").read_bytes() == before


def test_evaluate_images_too_small_for_ssim(tmp_path):
    """Below 7x7 the pair fails in skdce's words (it passed skimage's '...pass win_size explicitly...')."""
    ref, enh = tmp_path / "ref", tmp_path / "enh"
    ref.mkdir()
    enh.mkdir()
    for folder in (ref, enh):
        write_image(folder / "tiny.png", dark((5, 9, 3)))
        write_image(folder / "ok.png", dark((16, 16, 3)))
    result = invoke("evaluate", enh, ref, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [r["name"] for r in report["images"]] == ["ok"]
    (failed,) = report["failed"]
    assert failed["name"] == "tiny" and failed["reason"] == "too small for SSIM (needs at least 7x7 pixels): 9x5"
    assert f"failed: {enh / 'tiny.png'}: too small for SSIM" in result.stderr and "win_size" not in result.stderr


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_evaluate_refuses_an_image_scored_against_itself(tmp_path, how):
    """evaluate X X, or a reference linked to the image: the pair fails (it scored PSNR inf, SSIM 1 silently)."""
    enh = tmp_path / "enh"
    enh.mkdir()
    write_image(enh / "a.png", dark((16, 16, 3)))
    ref = enh if how == "same" else tmp_path / "ref"
    if how == "symlink":
        ref.mkdir()
        (ref / "a.png").symlink_to(enh / "a.png")
    elif how == "hardlink":
        ref.mkdir()
        os.link(enh / "a.png", ref / "a.png")
    result = invoke("evaluate", enh, ref, "--json")
    if how == "same":  # the same folder twice: one usage error before anything is read
        assert result.exit_code == 2 and "are the same folder" in result.stderr
    else:
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        assert report["images"] == [] and report["failed"][0]["reason"].startswith("the reference is the image itself")
    assert invoke("evaluate", enh, ref, "--enhance", "--json").exit_code == 0  # enhanced first: another image


def test_evaluate_mean_psnr_over_the_pairs_that_differ(pairs, tmp_path):
    """One identical pair made the mean PSNR inf (CSV) and null (JSON): the mean is over the finite PSNRs, the
    identical pairs are counted, and their null PSNR is marked "identical" (not a failure)."""
    ref, _, enhanced = pairs
    result = invoke("evaluate", enhanced, ref, "--suffix", "_x", "-o", tmp_path / "scores.json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == "1,inf,1.0000" and lines[3] == f"mean,{lines[2].split(',')[1]},{lines[3].split(',')[2]}"
    assert "1 of 2 pairs are identical to their reference (PSNR inf); the mean PSNR is over the other 1" \
        in result.stderr
    report = json.loads((tmp_path / "scores.json").read_text())
    assert report["identical"] == 1 and report["count"] == 2
    assert [r["identical"] for r in report["images"]] == [True, False]
    assert report["mean"]["psnr"] == report["images"][1]["psnr"]

    for folder in ("i", "r"):
        (tmp_path / folder).mkdir()
        write_image(tmp_path / folder / "1.png", read_image(ref / "1.png")[0])
    result = invoke("evaluate", tmp_path / "i", tmp_path / "r")  # all identical: the mean is inf too
    assert result.exit_code == 0 and result.stdout.splitlines()[2] == "mean,inf,1.0000"


def test_evaluate_output_folder_is_checked_before_scoring(pairs, tmp_path, monkeypatch):
    """-o nope/x.csv: a usage error before any pair is scored (it failed after all the scoring, with no fix)."""
    import skdce.io

    ref, _, enhanced = pairs
    monkeypatch.setattr(skdce.io, "read_image", lambda *a, **k: pytest.fail("scored before -o was checked"))
    result = invoke("evaluate", enhanced, ref, "--suffix", "_x", "-o", tmp_path / "nope" / "x.csv")
    assert result.exit_code == 2 and result.stdout == ""
    assert f"the folder '{tmp_path / 'nope'}' does not exist; create it or name a file in another folder" \
        in result.stderr
    (tmp_path / "afile").write_text("")
    result = invoke("evaluate", enhanced, ref, "--suffix", "_x", "-o", tmp_path / "afile" / "x.csv")
    assert result.exit_code == 2 and "is a file, not a folder" in result.stderr


def test_evaluate_json_without_pairs_is_still_a_report(pairs):
    """--json and no name matches: a JSON report with no pairs on stdout (it wrote nothing), the error on stderr."""
    ref, _, enhanced = pairs
    result = invoke("evaluate", enhanced, ref, "--json")  # no --suffix: 1_x matches no 1
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["images"] == [] and report["count"] == 0 and report["failed"] == []
    assert report["mean"] == {"psnr": None, "ssim": None} and len(report["unmatched"]) == 3
    assert result.stderr.strip().splitlines()[-1].startswith("Error: no file in")


def test_evaluate_says_how_many_subfolders_are_not_looked_into(pairs):
    """Subfolders of IMAGES and REFERENCES: one line on stderr (they were skipped silently)."""
    ref, _, enhanced = pairs
    for folder in (ref / "a", ref / "b", enhanced / "a", ref / ".hidden"):
        folder.mkdir()
        write_image(folder / "1.png", dark((16, 16, 3)))
    result = invoke("evaluate", enhanced, ref, "--suffix", "_x")
    assert result.exit_code == 0
    (line,) = [line for line in result.stderr.splitlines() if "subfolder" in line]
    assert line == (f"skdce: note: 3 subfolders not looked into (1 in {enhanced}, 2 in {ref}); evaluate scores the "
                    f"files directly in IMAGES and REFERENCES")
    assert "subfolder" not in invoke("evaluate", ref / "a", ref / "b").stderr
    result = invoke("evaluate", enhanced, ref)  # no pair matches: where the images may be is said too
    assert result.exit_code == 1 and "3 subfolders not looked into" in result.stderr
