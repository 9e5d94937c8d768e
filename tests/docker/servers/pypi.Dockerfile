# The servers base plus PyPI's Python servers (conftest.PYPI_RECIPE) in a
# venv, as users install them in an image: offline, from the wheels that the
# fixture downloaded on the host.  Bookworm's minbase has no pip: pip runs
# from its own wheel.  Not on PATH: Debian's python3 keeps its own packages
# (Celery) for the other tests.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG VENV
COPY wheels/ /tmp/wheels/
RUN python3 -m venv --without-pip ${VENV} \
 && ${VENV}/bin/python "$(echo /tmp/wheels/pip-*.whl)/pip" install -q --no-index --disable-pip-version-check \
        --root-user-action ignore --find-links /tmp/wheels -r /tmp/wheels/requirements.txt \
 && rm -rf /tmp/wheels \
 && ${VENV}/bin/python -c "import uvicorn, rq, dramatiq"
