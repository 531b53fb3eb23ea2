"""Tests of skdce.io._formats: format names, suffixes and the file layer's error."""

import pickle

import numpy as np
import pytest

from skdce.io import (
    FORMATS,
    IMAGE_SUFFIXES,
    ImageFileError,
    format_from_path,
    normalize_format,
    read_image,
    write_image,
)


@pytest.mark.parametrize(
    "name, fmt",
    [("png", "PNG"), (".PNG", "PNG"), ("jpg", "JPEG"), ("jpeg", "JPEG"), ("tif", "TIFF"), ("TIFF", "TIFF"),
     ("webp", "WEBP")],
)
def test_normalize_format(name, fmt):
    assert normalize_format(name) == fmt


def test_normalize_format_refuses_unknown_formats():
    with pytest.raises(ValueError,
                       match=r"format='gif' is not supported for writing; use one of png, jpg, tiff, webp\."):
        normalize_format("gif")


@pytest.mark.parametrize("name, fmt", [("x.JPG", "JPEG"), ("a/b.jpe", "JPEG"), ("x.tiff", "TIFF"), ("x.png", "PNG"),
                                       ("x.bmp", None), ("x", None)])
def test_format_from_path(name, fmt):
    assert format_from_path(name) == fmt


def test_every_output_suffix_is_an_image_suffix():
    assert all(s in IMAGE_SUFFIXES for suffixes in FORMATS.values() for s in suffixes)


def test_image_file_error_names_file_and_reason():
    error = ImageFileError("read", "a/b.png", "the file is empty")
    assert isinstance(error, ValueError) and (error.path, error.reason) == ("a/b.png", "the file is empty")
    assert str(error) == "cannot read image 'a/b.png': the file is empty"


@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
def test_image_file_error_pickles(protocol):
    error = ImageFileError("write", "a/b.png", "disk full")
    copy = pickle.loads(pickle.dumps(error, protocol))
    assert type(copy) is ImageFileError and copy.args == error.args
    assert str(copy) == "cannot write image 'a/b.png': disk full"
    assert (copy.action, copy.path, copy.reason) == ("write", "a/b.png", "disk full")


def test_format_argument_overrides_suffix(tmp_path):
    path = write_image(tmp_path / "a.img", np.zeros((4, 4, 3), np.uint8), format="jpg")
    assert read_image(path)[1].format == "JPEG"
