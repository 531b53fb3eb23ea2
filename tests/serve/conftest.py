"""The server most serve tests share: started once, with a token, small limits and two workers."""

import pytest

from ._server import TOKEN, Server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """``skdce serve`` with SKDCE_TOKEN set, uploads up to 1 MB and images up to 0.5 megapixels."""
    srv = Server(tmp_path_factory.mktemp("serve"), "--max-upload-mb", 1, "--max-megapixels", 0.5, "--workers", 2,
                 env={"SKDCE_TOKEN": TOKEN})
    yield srv
    srv.stop()
