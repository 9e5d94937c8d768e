# tini-py pip-installed into a venv, as users install it: the image's own
# python3 makes the venv and builds the package, offline.  The test suite
# builds it on each Debian release's image (tests/docker/conftest.py,
# installed_images) with --network none, from a context holding the
# sources (src/) and the setuptools wheel pip downloaded on the host (wheels/).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY wheels/ /tmp/wheels/
COPY src/ /tmp/src/
# pyproject.toml needs setuptools>=61: Debian 11's venv comes with 52 and
# Debian 13's with none, so the wheel goes in first; --no-build-isolation
# builds with it instead of fetching one.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-index --no-deps \
        /tmp/wheels/setuptools-*.whl \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-index --no-deps \
        --no-build-isolation /tmp/src \
 && rm -rf /tmp/src /tmp/wheels
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN tini-py --version
ENTRYPOINT ["tini-py", "--"]
