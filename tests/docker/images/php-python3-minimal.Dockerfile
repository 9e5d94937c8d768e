# tini-py on a php-fpm image whose only Python is Debian's python3-minimal
# (no ctypes, no shlex, no shutil), as docs/images-without-python.md tells a
# PHP team to make it.  Built offline (--network none) by the test suite
# (tests/docker/conftest.py, php_minimal_image).
#
# tools/build_zipapp.py cannot run on python3-minimal (zipfile imports
# shutil), so a builder stage gives the image's own interpreter the rest of
# its standard library: the files of the same Debian release's
# libpython3.11-stdlib, taken from STDLIB_IMAGE (bookworm with python3) --
# what `apt-get install python3` does in a user's builder stage.  The
# zipapp's bytecode is then the image interpreter's; the final stage has
# python3-minimal alone.
ARG BASE_IMAGE
ARG STDLIB_IMAGE
FROM ${STDLIB_IMAGE} AS stdlib

FROM ${BASE_IMAGE} AS tini-py
COPY --from=stdlib /usr/lib/python3.11/ /usr/lib/python3.11/
COPY tini_py/ /src/tini_py/
COPY tools/build_zipapp.py /src/tools/
RUN python3 -I /src/tools/build_zipapp.py --output /tini-py

FROM ${BASE_IMAGE}
COPY --from=tini-py /tini-py /usr/local/bin/tini-py
RUN tini-py --version
ENTRYPOINT ["tini-py", "--profile", "php-fpm", "--"]
CMD ["php-fpm8.2", "-F"]
